package maildir

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Options configures a Store.
type Options struct {
	Root   string       // mail_root: <Root>/<domain>/<localpart>/ is a user's Maildir++ root
	Logger *slog.Logger // nil: slog.Default()
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// StaleLockAfter is the age after which a dovecot-uidlist.lock left by a
	// dead process is broken. Zero means 2 minutes (Dovecot's default).
	StaleLockAfter time.Duration
	// LockTimeout bounds the wait for the uidlist dotlock. Zero means 10 s.
	LockTimeout time.Duration
	// NoInotify forces directory polling for Wait (tests, and kernels without it).
	NoInotify bool
}

// Store is the mail of all users under one mail_root. It is safe for
// concurrent use; one Store serves a whole process.
type Store struct {
	root           string
	log            *slog.Logger
	now            func() time.Time
	staleLockAfter time.Duration
	lockTimeout    time.Duration
	noInotify      bool
	live           *liveSet // open mailboxes of this process, for change broadcast
	euid           int      // 0: files created in a Maildir are given to its owner (owner.go)
	indexMin       int      // folders with fewer messages get no maildird-index
}

// Open returns the Store rooted at opts.Root, creating the directory.
func Open(opts Options) (*Store, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("maildir: empty mail root")
	}
	if err := os.MkdirAll(opts.Root, 0o700); err != nil {
		return nil, fmt.Errorf("maildir: creating mail root: %w", err)
	}
	s := &Store{
		root:           opts.Root,
		log:            opts.Logger,
		now:            opts.Now,
		staleLockAfter: opts.StaleLockAfter,
		lockTimeout:    opts.LockTimeout,
		noInotify:      opts.NoInotify,
		euid:           os.Geteuid(),
		indexMin:       defaultIndexMin,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.staleLockAfter == 0 {
		s.staleLockAfter = 2 * time.Minute
	}
	if s.lockTimeout == 0 {
		s.lockTimeout = 10 * time.Second
	}
	s.live = newLiveSet()
	return s, nil
}

// Root is the mail_root directory.
func (s *Store) Root() string { return s.root }
