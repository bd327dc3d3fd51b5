package imap

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server"
)

// Authenticator checks a login; server/auth's Authenticator is one. It
// returns the canonical user name (the Maildir address), auth.ErrBadCredentials
// or auth.ErrThrottled.
type Authenticator interface {
	Authenticate(ctx context.Context, remote netip.Addr, user, password string) (string, error)
}

// Options configures a Server.
type Options struct {
	// Hostname names the server in its greeting and logs.
	Hostname string
	// TLS enables STARTTLS. Connections that arrive already on TLS (port
	// 993) are recognised by their type (*tls.Conn).
	TLS *tls.Config
	// Store holds the users' mail.
	Store *maildir.Store
	// Auth checks LOGIN and AUTHENTICATE PLAIN.
	Auth Authenticator
	// AllowPlaintext permits password logins without TLS from anywhere
	// ([auth] allow_plaintext). Without it a login needs TLS, unless the
	// client connects from the server's own address (DESIGN.md §5).
	AllowPlaintext bool
	// MaxMessageSize is the APPENDLIMIT: a bigger APPEND is refused before
	// its literal is read. Zero means 25 MB; at most 4 GB-1.
	MaxMessageSize int64
	// LoginTimeout cuts a connection that has not logged in this long
	// after it was opened. Zero means 60 s.
	LoginTimeout time.Duration
	// Autologout cuts an authenticated connection after this long without
	// a command, outside IDLE. Zero means 30 minutes (RFC 3501 §5.4's
	// minimum). An IDLE lasts until the client ends it or 35 minutes pass.
	Autologout time.Duration
	Logger     *slog.Logger
}

// Server is an IMAP4rev1/IMAP4rev2 server over a maildir.Store.
//
// The protocol engine is go-imap's imapserver. Whether a connection may
// log in without TLS is decided per connection (DESIGN.md §5), while
// imapserver decides it per server, so Server runs one imapserver.Server
// for each kind of connection and hands every accepted connection to the
// right one.
type Server struct {
	opts  Options
	log   *slog.Logger
	boxes *registry
	inner [numConnKinds]innerServer

	up *upgrader // STARTTLS; nil without Options.TLS

	mu       sync.Mutex
	lns      []net.Listener
	sessions map[*session]struct{}
	closing  bool
	active   sync.WaitGroup
	// wrapSession lets tests see what imapserver calls on a session.
	wrapSession func(*session) imapserver.Session
}

// connKind is what a connection may do about passwords.
type connKind int

const (
	connTLS       connKind = iota // on TLS already or after STARTTLS: login allowed, no STARTTLS
	connPlainOK                   // cleartext from the machine itself or allow_plaintext: login allowed, STARTTLS offered
	connPlainNoPW                 // cleartext from elsewhere: LOGINDISABLED until STARTTLS
	numConnKinds
)

type innerServer struct {
	srv  *imapserver.Server
	feed *connFeed
}

// capabilities are those imapserver advertises only when told to; it adds
// SASL-IR, LITERAL-, STARTTLS, AUTH=PLAIN or LOGINDISABLED, UNSELECT,
// ENABLE, IDLE, UTF8=ACCEPT and APPENDLIMIT= (from the session) by itself.
// Each is implemented here or by imapserver.
var capabilities = goimap.CapSet{
	goimap.CapIMAP4rev1:        {},
	goimap.CapIMAP4rev2:        {},
	goimap.CapNamespace:        {},
	goimap.CapUIDPlus:          {},
	goimap.CapESearch:          {},
	goimap.CapSearchRes:        {},
	goimap.CapListExtended:     {},
	goimap.CapListStatus:       {},
	goimap.CapMove:             {},
	goimap.CapStatusSize:       {},
	goimap.CapChildren:         {},
	goimap.CapSpecialUse:       {},
	goimap.CapCreateSpecialUse: {},
	goimap.CapBinary:           {},
}

// New returns a Server; Serve starts it on a listener.
func New(opts Options) *Server {
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 25 << 20
	}
	if opts.MaxMessageSize > 1<<32-1 {
		opts.MaxMessageSize = 1<<32 - 1
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = 60 * time.Second
	}
	if opts.Autologout <= 0 {
		opts.Autologout = 30 * time.Minute
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		opts:     opts,
		log:      log.With("service", "imap"),
		sessions: map[*session]struct{}{},
	}
	s.boxes = newRegistry(opts.Store, s.log)
	if opts.TLS != nil {
		s.up = &upgrader{tls: opts.TLS, log: s.log, timeout: startTLSTimeout, give: s.giveTLS}
	}
	for k := connKind(0); k < numConnKinds; k++ {
		o := &imapserver.Options{
			NewSession: s.newSession,
			Caps:       capabilities,
			Logger:     slogPrintf{s.log},
		}
		switch k {
		case connTLS:
			o.InsecureAuth = true
		case connPlainOK:
			// TLSConfig makes imapserver advertise STARTTLS (and
			// LOGINDISABLED below); the flushConn performs it.
			o.InsecureAuth = true
			o.TLSConfig = opts.TLS
		case connPlainNoPW:
			o.TLSConfig = opts.TLS
		}
		in := innerServer{srv: imapserver.New(o), feed: newConnFeed()}
		s.inner[k] = in
		go in.srv.Serve(in.feed)
	}
	return s
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
		kind := s.kindOf(c)
		fc := newFlushConn(c)
		if kind != connTLS {
			fc.up = s.up
		}
		if !s.inner[kind].feed.give(fc) {
			c.Close()
		}
	})
}

// giveTLS takes a connection that went through STARTTLS. The TLS server
// greets it, but flushConn drops that greeting: none is due after
// STARTTLS.
func (s *Server) giveTLS(c *flushConn) bool {
	return s.inner[connTLS].feed.give(c)
}

// kindOf sorts a new connection by what it may do about passwords.
func (s *Server) kindOf(c net.Conn) connKind {
	if _, ok := c.(*tls.Conn); ok {
		return connTLS
	}
	if s.opts.AllowPlaintext || sameMachine(c) {
		return connPlainOK
	}
	return connPlainNoPW
}

// sameMachine: the client's address is the server's own address of this
// connection (DESIGN.md §5, as Dovecot decides it).
func sameMachine(c net.Conn) bool {
	r, l := addrOf(c.RemoteAddr()), addrOf(c.LocalAddr())
	return r.IsValid() && r == l
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// Shutdown stops accepting, says BYE to every client and waits for the
// sessions until ctx ends; then it cuts the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for _, in := range s.inner {
		in.feed.Close()
	}
	for sess := range s.sessions {
		go sess.bye("Server shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// imapserver.Server.Close is not used: it races with a Serve that is
	// just starting (sync.WaitGroup Add against Wait).
	s.mu.Lock()
	for sess := range s.sessions {
		sess.conn.NetConn().Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// newSession is imapserver's NewSession hook: one session per connection.
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, nil, &goimap.Error{Type: goimap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	sess := newSession(s, c)
	s.sessions[sess] = struct{}{}
	s.active.Add(1)
	if s.wrapSession != nil {
		return s.wrapSession(sess), nil, nil
	}
	return sess, nil, nil
}

func (s *Server) sessionDone(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.active.Done()
}

// connFeed is a net.Listener whose connections come from Server.Serve.
type connFeed struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnFeed() *connFeed {
	return &connFeed{ch: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to the inner server; false when it is closed.
func (f *connFeed) give(c net.Conn) bool {
	select {
	case f.ch <- c:
		return true
	case <-f.done:
		return false
	}
}

func (f *connFeed) Accept() (net.Conn, error) {
	select {
	case c := <-f.ch:
		return c, nil
	case <-f.done:
		return nil, net.ErrClosed
	}
}

func (f *connFeed) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}

func (f *connFeed) Addr() net.Addr { return feedAddr{} }

type feedAddr struct{}

func (feedAddr) Network() string { return "feed" }
func (feedAddr) String() string  { return "feed" }

// slogPrintf gives imapserver's Printf logging to slog.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...))
}
