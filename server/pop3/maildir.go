package pop3

import (
	"errors"
	"fmt"
	"io"

	"github.com/maildird/maildird/maildir"
)

// MaildirStore serves POP3 maildrops from a maildir.Store: each user's
// INBOX.
type MaildirStore struct {
	Store *maildir.Store
}

// OpenInbox opens user's INBOX; a uidlist lock held too long by another
// program is ErrInUse.
func (s MaildirStore) OpenInbox(user string) (Mailbox, error) {
	mb, err := s.Store.OpenMailbox(user, "INBOX")
	if err != nil {
		if errors.Is(err, maildir.ErrLocked) {
			return nil, fmt.Errorf("%w: %w", ErrInUse, err)
		}
		return nil, err
	}
	return maildirMailbox{mb}, nil
}

type maildirMailbox struct{ mb *maildir.Mailbox }

func (m maildirMailbox) UIDValidity() uint32 { return m.mb.UIDValidity() }

func (m maildirMailbox) Messages() []Message {
	all := m.mb.Messages()
	out := make([]Message, len(all))
	for i, msg := range all {
		out[i] = Message{UID: msg.UID, Size: msg.Size}
	}
	return out
}

func (m maildirMailbox) Open(uid uint32) (io.ReadCloser, error) { return m.mb.Open(uid) }

func (m maildirMailbox) MarkSeen(uids []uint32) error {
	return m.mb.StoreFlags(uids, maildir.FlagsAdd, maildir.FlagSeen, nil)
}

func (m maildirMailbox) Expunge(uids []uint32) error {
	_, err := m.mb.Expunge(uids)
	return err
}

func (m maildirMailbox) Close() error { return m.mb.Close() }
