package smtp

import (
	"context"
	"io"
	"net/netip"
)

// Mailstore starts local deliveries. maildir.Store is one through
// StoreFunc (its NewDelivery returns a concrete type):
//
//	smtp.StoreFunc(func(max int64) (smtp.Delivery, error) {
//		d, err := store.NewDelivery(max)
//		if err != nil {
//			return nil, err // never a typed nil inside the interface
//		}
//		return d, nil
//	})
type Mailstore interface {
	// NewDelivery starts a message of at most maxSize bytes (CRLF form).
	NewDelivery(maxSize int64) (Delivery, error)
}

// Delivery is one message written once for several local recipients, in
// two phases: Write the bytes (CRLF line ends), AddRecipient each mailbox,
// then Commit (durable in every recipient's Maildir when it returns nil)
// or Abort (nothing visible anywhere).
type Delivery interface {
	io.Writer
	// AddRecipient adds a user's folder; "" is INBOX.
	AddRecipient(addr, folder string) error
	Commit() error
	Abort() error
}

// StoreFunc adapts a function to Mailstore.
type StoreFunc func(maxSize int64) (Delivery, error)

// NewDelivery calls f.
func (f StoreFunc) NewDelivery(maxSize int64) (Delivery, error) { return f(maxSize) }

// Directory resolves an address of a local domain to the mailboxes it
// delivers to: [user] for a user (user+tag@ included), the targets of an
// alias or list (local users and remote forwarding addresses). Unknown
// addresses give an error wrapping auth.ErrNoSuchUser; malformed ones
// auth.ErrBadAddress. server/auth's Store is one.
type Directory interface {
	Lookup(addr string) ([]string, error)
}

// Authenticator checks a password login and returns the canonical user.
// Failures wrap auth.ErrBadCredentials or auth.ErrThrottled. server/auth's
// Authenticator is one (it also slows down repeated failures).
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, user, pass string) (string, error)
}

// Enqueuer hands messages for remote recipients to the outbound queue.
// While it is nil, remote recipients are refused with a temporary error
// (451 4.3.0), never dropped.
type Enqueuer interface {
	// NewMessage starts a queued message from the envelope sender ("" for
	// the null reverse-path) of at most maxSize bytes.
	NewMessage(from string, maxSize int64) (Outgoing, error)
}

// Outgoing is one queued message, two-phase like Delivery: Commit means
// it is durable in the queue.
type Outgoing interface {
	io.Writer
	AddRecipient(addr string) error
	Commit() error
	Abort() error
}
