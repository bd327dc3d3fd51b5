package imap

import (
	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
)

// Expunge serves EXPUNGE, UID EXPUNGE (RFC 4315) and the expunge of CLOSE.
// The EXPUNGE responses go through the tracker to every session, this one
// included (the poll after the command writes them; CLOSE sends none).
//
// go-imap beta.8 calls the same method for CLOSE and EXPUNGE, so in a
// folder opened with EXAMINE both do nothing and succeed (CLOSE must, RFC
// 3501 §6.4.2).
func (s *session) Expunge(_ *imapserver.ExpungeWriter, uidSet *goimap.UIDSet) error {
	sel := s.sel
	if sel == nil {
		return errNotSelected
	}
	s.touch()
	if sel.readOnly {
		if uidSet != nil {
			return errReadOnly
		}
		return nil
	}
	b := sel.box
	b.mu.Lock()
	defer b.mu.Unlock()
	// Deletions flagged by other programs count too.
	if err := b.syncLocked(sel); err != nil {
		return storeError(err)
	}
	var uids []uint32
	if uidSet != nil {
		set := *uidSet
		if goimap.IsSearchRes(set) {
			set = s.res
		}
		n := b.mb.Len()
		for _, r := range staticRanges(uidRanges(set), sel.maxUIDLocked()) {
			i, _ := b.mb.Index(r.lo)
			for ; i < n; i++ {
				m := b.mb.At(i)
				if m.UID > r.hi {
					break
				}
				if m.Flags&maildir.FlagDeleted != 0 {
					uids = append(uids, m.UID)
				}
			}
		}
		if len(uids) == 0 {
			return nil
		}
	}
	gone, err := b.mb.Expunge(uids)
	b.expungedLocked(gone)
	b.wakeLocked()
	return storeError(err)
}
