package imap

import (
	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// Append serves APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID. The
// literal streams into the folder's tmp/ (maildir.Mailbox.Append);
// imapserver has refused one over APPENDLIMIT before reading it. Other
// sessions with the folder selected learn of the message from the
// folder's change notification.
func (s *session) Append(name string, r goimap.LiteralReader, options *goimap.AppendOptions) (*goimap.AppendData, error) {
	s.touch()
	if r.Size() > s.srv.opts.MaxMessageSize {
		return nil, storeError(maildir.ErrTooBig)
	}
	f, kw, err := splitFlags(options.Flags)
	if err != nil {
		return nil, err
	}
	// A folder of its own: the shared view stays free for the other
	// sessions while a slow client uploads.
	mb, err := s.srv.opts.Store.OpenMailboxReadOnly(s.user, canonicalName(name))
	if err != nil {
		if err := storeError(err); isNonExistent(err) {
			return nil, &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeTryCreate, Text: "No such mailbox"}
		}
		return nil, storeError(err)
	}
	defer mb.Close()
	uid, err := mb.Append(r, f, kw, options.Time)
	if err != nil {
		return nil, storeError(err)
	}
	s.touch()
	return &goimap.AppendData{UID: goimap.UID(uid), UIDValidity: mb.UIDValidity()}, nil
}

func isNonExistent(err error) bool {
	e, ok := err.(*goimap.Error)
	return ok && e.Code == goimap.ResponseCodeNonExistent
}
