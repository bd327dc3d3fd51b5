package imap

import (
	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// Status serves STATUS (RFC 3501 §6.3.10) with STATUS=SIZE (RFC 8438) and
// APPENDLIMIT (RFC 7889). A folder some session has open is counted from
// the shared view; any other one is opened read-only for the count.
func (s *session) Status(name string, options *goimap.StatusOptions) (*goimap.StatusData, error) {
	s.touch()
	return s.status(canonicalName(name), options)
}

func (s *session) status(name string, options *goimap.StatusOptions) (*goimap.StatusData, error) {
	var mb *maildir.Mailbox
	if b := s.srv.boxes.lookup(s.user, name); b != nil {
		defer s.srv.boxes.release(b)
		b.mu.Lock()
		defer b.mu.Unlock()
		if err := b.syncLocked(nil); err != nil {
			return nil, storeError(err)
		}
		mb = b.mb
	} else {
		var err error
		mb, err = s.srv.opts.Store.OpenMailboxReadOnly(s.user, name)
		if err != nil {
			return nil, storeError(err)
		}
		defer mb.Close()
	}
	data := &goimap.StatusData{Mailbox: name, UIDNext: goimap.UID(mb.UIDNext()), UIDValidity: mb.UIDValidity()}
	n := mb.Len()
	var unseen, deleted uint32
	var size, deletedSize int64
	if options.NumUnseen || options.NumDeleted || options.Size || options.DeletedStorage {
		for i := 0; i < n; i++ {
			m := mb.At(i)
			if m.Flags&maildir.FlagSeen == 0 {
				unseen++
			}
			if m.Flags&maildir.FlagDeleted != 0 {
				deleted++
				deletedSize += m.Size
			}
			size += m.Size
		}
	}
	messages, recent := uint32(n), uint32(0)
	limit := uint32(s.srv.opts.MaxMessageSize)
	data.NumMessages = &messages
	data.NumRecent = &recent
	data.NumUnseen = &unseen
	data.NumDeleted = &deleted
	data.Size = &size
	data.DeletedStorage = &deletedSize
	data.AppendLimit = &limit
	return data, nil
}
