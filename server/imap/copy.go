package imap

import (
	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// setUIDs lists the UIDs of a command's set that the client knows.
func (s *session) setUIDs(sel *selection, numSet goimap.NumSet) ([]uint32, error) {
	var uids []uint32
	err := sel.each(numSet, s.res, func(items []item) error {
		for _, it := range items {
			uids = append(uids, it.msg.UID)
		}
		return nil
	})
	return uids, err
}

// checkDest refuses a destination that does not exist with TRYCREATE
// (RFC 3501 §6.4.7).
func (s *session) checkDest(dest string) error {
	if canonicalName(dest) == "INBOX" {
		return nil
	}
	folders, err := s.srv.opts.Store.Folders(s.user)
	if err != nil {
		return storeError(err)
	}
	for _, f := range folders {
		if f.Name == dest && !f.NoSelect {
			return nil
		}
	}
	return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeTryCreate, Text: "No such mailbox"}
}

// Copy serves COPY and UID COPY with UIDPLUS's COPYUID (RFC 4315).
func (s *session) Copy(numSet goimap.NumSet, dest string) (*goimap.CopyData, error) {
	sel := s.sel
	if sel == nil {
		return nil, errNotSelected
	}
	s.touch()
	if err := s.checkDest(dest); err != nil {
		return nil, err
	}
	uids, err := s.setUIDs(sel, numSet)
	if err != nil || len(uids) == 0 {
		return nil, err
	}
	b := sel.box
	b.mu.Lock()
	src, dst, validity, err := b.mb.CopyTo(uids, canonicalName(dest))
	b.mu.Unlock()
	if err != nil && len(src) == 0 {
		return nil, storeError(err)
	}
	if err != nil {
		s.log.Warn("imap: COPY partly failed", "err", err)
	}
	if len(src) == 0 {
		return nil, nil
	}
	return copyData(validity, src, dst), nil
}

func copyData(validity uint32, src, dst []uint32) *goimap.CopyData {
	var s, d goimap.UIDSet
	for i := range src {
		s.AddNum(goimap.UID(src[i]))
		d.AddNum(goimap.UID(dst[i]))
	}
	return &goimap.CopyData{UIDValidity: validity, SourceUIDs: s, DestUIDs: d}
}

// Move serves MOVE and UID MOVE (RFC 6851): COPYUID first, then the
// EXPUNGE responses, which the poll after the command writes.
func (s *session) Move(w *imapserver.MoveWriter, numSet goimap.NumSet, dest string) error {
	sel := s.sel
	if sel == nil {
		return errNotSelected
	}
	s.touch()
	if sel.readOnly {
		return errReadOnly
	}
	if err := s.checkDest(dest); err != nil {
		return err
	}
	if canonicalName(dest) == sel.name {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeCannot, Text: "Source and destination are the same mailbox"}
	}
	uids, err := s.setUIDs(sel, numSet)
	if err != nil || len(uids) == 0 {
		return err
	}
	b := sel.box
	b.mu.Lock()
	src, dst, validity, err := b.mb.MoveTo(uids, canonicalName(dest))
	b.expungedLocked(src)
	b.wakeLocked()
	b.mu.Unlock()
	if len(src) == 0 {
		return storeError(err)
	}
	if err != nil {
		s.log.Warn("imap: MOVE partly failed", "err", err)
	}
	return w.WriteCopyData(copyData(validity, src, dst))
}
