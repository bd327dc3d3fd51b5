package imap

import (
	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
)

// errReadOnly refuses changes to a folder opened with EXAMINE.
var errReadOnly = &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCode("READ-ONLY"), Text: "Mailbox is read-only"}

// Store serves STORE and UID STORE (RFC 3501 §6.4.6). The new flags are
// sent back unless .SILENT was asked for, and to every other session that
// has the folder selected. A keyword new to the folder is announced with
// FLAGS.
func (s *session) Store(w *imapserver.FetchWriter, numSet goimap.NumSet, flags *goimap.StoreFlags, _ *goimap.StoreOptions) error {
	sel := s.sel
	if sel == nil {
		return errNotSelected
	}
	s.touch()
	if sel.readOnly {
		return errReadOnly
	}
	f, kw, err := splitFlags(flags.Flags)
	if err != nil {
		return err
	}
	var op maildir.FlagOp
	switch flags.Op {
	case goimap.StoreFlagsSet:
		op = maildir.FlagsSet
	case goimap.StoreFlagsAdd:
		op = maildir.FlagsAdd
	case goimap.StoreFlagsDel:
		op = maildir.FlagsRemove
	}
	_, byUID := numSet.(goimap.UIDSet)
	byUID = byUID || goimap.IsSearchRes(numSet)
	b := sel.box
	return sel.each(numSet, s.res, func(items []item) error {
		uids := make([]uint32, len(items))
		for i, it := range items {
			uids[i] = it.msg.UID
		}
		b.mu.Lock()
		err := b.mb.StoreFlags(uids, op, f, kw)
		b.flagsChangedLocked(uids, sel)
		for i := range items {
			if j, ok := b.mb.Index(items[i].msg.UID); ok {
				items[i].msg = b.mb.At(j)
			}
		}
		b.mu.Unlock()
		if err != nil {
			return storeError(err)
		}
		if flags.Silent {
			return nil
		}
		for _, it := range items {
			rw := w.CreateMessage(it.seq)
			if byUID {
				rw.WriteUID(goimap.UID(it.msg.UID))
			}
			rw.WriteFlags(s.flags(it.msg))
			if err := rw.Close(); err != nil {
				return err
			}
		}
		return nil
	})
}
