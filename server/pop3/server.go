// Package pop3 serves a user's INBOX over POP3 (RFC 1939, RFC 2449
// extensions, RFC 2595 STLS, RFC 5034 SASL PLAIN).
//
// A session moves through three states (RFC 1939 §3): AUTHORIZATION until
// a login succeeds, TRANSACTION while the client works on the maildrop as
// it was at login, and UPDATE on QUIT, where DELE marks become expunges.
// A connection that drops in TRANSACTION changes nothing.
package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/maildird/maildird/server"
)

// Message is one message of a maildrop.
type Message struct {
	UID  uint32
	Size int64 // octets with CRLF line ends, as RETR sends them
}

// Store opens users' INBOXes.
type Store interface {
	OpenInbox(user string) (Mailbox, error)
}

// Mailbox is one user's INBOX, open for one session.
type Mailbox interface {
	UIDValidity() uint32
	Messages() []Message
	// Open streams a message with CRLF line ends.
	Open(uid uint32) (io.ReadCloser, error)
	MarkSeen(uids []uint32) error
	Expunge(uids []uint32) error
	Close() error
}

// Authenticator checks a login; server/auth's Authenticator is one.
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, user, password string) (string, error)
}

// ErrInUse is what a Store returns when the maildrop cannot be opened
// because something else holds it; the client gets [IN-USE].
var ErrInUse = errors.New("pop3: maildrop in use")

// Options configures a Server.
type Options struct {
	Hostname string
	// TLS enables STLS. Connections that arrive already on TLS (port 995)
	// are recognised by their type.
	TLS            *tls.Config
	Store          Store
	Auth           Authenticator
	AllowPlaintext bool // [auth] allow_plaintext
	// IdleTimeout disconnects a silent client; RFC 1939 §3 asks for at
	// least 10 minutes. Zero means 10 minutes.
	IdleTimeout time.Duration
	// MaxErrors closes the connection after that many bad commands. Zero
	// means 10.
	MaxErrors int
	Logger    *slog.Logger
}

// Server is a POP3 server.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	lns      []net.Listener
	conns    map[*session]struct{}
	closing  bool
	sessions sync.WaitGroup
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.MaxErrors == 0 {
		opts.MaxErrors = 10
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{opts: opts, log: log.With("service", "pop3"), conns: map[*session]struct{}{}}
}

// Serve accepts connections on ln until it is closed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	return server.Accept(ln, func(c net.Conn) {
		sess := newSession(s, c)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[sess] = struct{}{}
		s.sessions.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.sessions.Done()
			sess.serve()
			s.mu.Lock()
			delete(s.conns, sess)
			s.mu.Unlock()
		}()
	})
}

// Shutdown stops accepting, tells idle clients the server is going away,
// and waits for the sessions until ctx ends; then it cuts the rest.
// Sessions in UPDATE finish their expunge first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for sess := range s.conns {
		sess.interrupt()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.sessions.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.conns {
			sess.conn.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
