package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Mode is the policy of one listener. The engine is the same for all.
type Mode int

const (
	// MX is port 25: no AUTH, local recipients only, never relays.
	MX Mode = iota
	// Submission is port 587: STARTTLS, then AUTH before MAIL.
	Submission
	// SubmissionTLS is port 465: implicit TLS, then AUTH before MAIL.
	SubmissionTLS
)

func (m Mode) String() string {
	switch m {
	case MX:
		return "mx"
	case Submission:
		return "submission"
	case SubmissionTLS:
		return "submissions"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

func (m Mode) submission() bool { return m == Submission || m == SubmissionTLS }

// Limits bound what one connection may do. Zero fields take the defaults
// named on each field.
type Limits struct {
	MaxMessageSize int64 // bytes after line-end normalisation; 0: 25 MiB
	MaxRecipients  int   // per message; 0: 100
	// MaxHops is how many Received fields an incoming message may carry
	// before it is refused as a loop (RFC 5321 §6.3 asks for at least
	// 100); 0: 100.
	MaxHops int
	// MaxErrors closes the connection with 421 once that many commands
	// got a 4xx or 5xx reply; 0: 20.
	MaxErrors int
	// MaxJunkCommands is how many NOOP, RSET, VRFY, EXPN and HELP a
	// client may send before each further one counts as an error; 0: 100.
	MaxJunkCommands int
	// MaxLineLength bounds a message line (bytes, CRLF included); longer
	// lines end the connection with 554. 0: 64 KiB. RFC 5321 §4.5.3.1.6
	// asks senders for 1000 but receivers to be generous. Command lines
	// are bounded by maxCommandLine (RFC 4954 §4: 12288 for AUTH).
	MaxLineLength int
	// CommandTimeout is how long the server waits for a command
	// (RFC 5321 §4.5.3.2.7: at least 5 minutes); 0: 5 minutes.
	CommandTimeout time.Duration
	// DataTimeout is how long the server waits for more message bytes
	// after DATA or between BDAT chunks (RFC 5321 §4.5.3.2.5, the
	// sender's 3-minute data block timeout, mirrored); 0: 3 minutes.
	DataTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = 25 << 20
	}
	def(&l.MaxRecipients, 100)
	def(&l.MaxHops, 100)
	def(&l.MaxErrors, 20)
	def(&l.MaxJunkCommands, 100)
	def(&l.MaxLineLength, 64<<10)
	if l.CommandTimeout <= 0 {
		l.CommandTimeout = 5 * time.Minute
	}
	if l.DataTimeout <= 0 {
		l.DataTimeout = 3 * time.Minute
	}
	return l
}

// Options configures a Server.
type Options struct {
	Hostname string // greeting, Received "by", Message-ID right part
	Mode     Mode
	// TLS enables STARTTLS (MX, Submission) and is the implicit TLS of
	// SubmissionTLS, unless the listener already hands out *tls.Conn
	// (then the listener's config applies: turn its session tickets off,
	// mdtls ConfigOptions{SessionTickets: false}). Session tickets are
	// turned off in a copy of this config.
	TLS    *tls.Config
	Limits Limits

	Store     Mailstore     // local deliveries; required
	Directory Directory     // users, aliases and lists; required
	Auth      Authenticator // required for Submission and SubmissionTLS
	Queue     Enqueuer      // remote recipients; nil: refused with 451 4.3.0
	// IsLocalDomain reports whether mail for domain is delivered here
	// (lower-case, no trailing dot). Required.
	IsLocalDomain func(domain string) bool
	// AllowPlaintext permits AUTH without TLS from anywhere ([auth]
	// allow_plaintext). Without it, AUTH needs TLS unless the client's
	// address equals the connection's local address (DESIGN.md §5).
	AllowPlaintext bool
	// Postmaster receives RCPT TO:<Postmaster> without a domain, which
	// RFC 5321 §4.5.1 requires servers to accept; "": such RCPTs get
	// go-smtp's 501 (its path parser needs a domain).
	Postmaster string

	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// Server is one SMTP listener's engine: go-smtp for the protocol, with
// the per-connection front (front.go) for transport and abuse rules and
// the session (session.go) for policy and delivery.
type Server struct {
	opts   Options
	limits Limits
	log    *slog.Logger
	now    func() time.Time
	gs     *gosmtp.Server

	closing atomic.Bool
	mu      sync.Mutex
	fronts  map[*front]struct{}
}

// New returns a Server for opts. It panics when a required field is
// missing: that is a wiring bug, not a run-time condition.
func New(opts Options) *Server {
	if opts.Store == nil || opts.Directory == nil || opts.IsLocalDomain == nil {
		panic("smtp: Options needs Store, Directory and IsLocalDomain")
	}
	if opts.Mode.submission() && opts.Auth == nil {
		panic("smtp: submission needs Options.Auth")
	}
	if opts.Mode == SubmissionTLS && opts.TLS == nil {
		panic("smtp: SubmissionTLS needs Options.TLS")
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.TLS != nil {
		// Microsoft's SMTP client aborts STARTTLS when a Go server sends
		// TLS 1.3 session tickets; whatever the caller's config says.
		opts.TLS = opts.TLS.Clone()
		opts.TLS.SessionTicketsDisabled = true
	}
	s := &Server{
		opts:   opts,
		limits: opts.Limits.withDefaults(),
		log:    opts.Logger,
		now:    opts.Now,
		fronts: make(map[*front]struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("service", "smtp", "mode", opts.Mode.String())
	if s.now == nil {
		s.now = time.Now
	}
	s.gs = s.newEngine()
	return s
}

// newEngine configures go-smtp. Timeouts and line limits stay off there:
// the front applies them per read (go-smtp sets one deadline per command,
// so a long DATA would have to fit in it whole).
func (s *Server) newEngine() *gosmtp.Server {
	gs := gosmtp.NewServer(backend{s})
	gs.Domain = s.opts.Hostname
	gs.MaxRecipients = s.limits.MaxRecipients
	// go-smtp's DATA reader refuses a message of exactly MaxMessageBytes
	// (it errors once the budget reaches zero, before seeing the final
	// dot), so it gets one byte more; the session enforces the real limit
	// and the front advertises the real SIZE.
	gs.MaxMessageBytes = s.limits.MaxMessageSize + 1
	gs.MaxLineLength = 0
	gs.ReadTimeout = 0
	gs.WriteTimeout = 0
	gs.EnableSMTPUTF8 = true
	// The session decides (plaintextAllowed), per connection.
	gs.AllowInsecureAuth = true
	if s.opts.Mode != SubmissionTLS {
		// Only makes go-smtp advertise STARTTLS; the front performs it.
		gs.TLSConfig = s.opts.TLS
	}
	gs.ErrorLog = engineLog{s.log}
	return gs
}

// Serve accepts connections on ln until Shutdown. ln may hand out
// *tls.Conn (implicit TLS done by the caller) or plain connections.
func (s *Server) Serve(ln net.Listener) error {
	err := s.gs.Serve(&listener{Listener: ln, s: s})
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets transactions in progress finish, tells
// every connection waiting for a command "421 4.3.2" and closes it, and
// waits for all connections until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for f := range s.fronts {
		f.wake()
	}
	s.mu.Unlock()
	err := s.gs.Shutdown(ctx)
	if ctx.Err() != nil {
		// go-smtp's Close does nothing after its Shutdown: close the
		// connections here.
		s.mu.Lock()
		left := make([]*front, 0, len(s.fronts))
		for f := range s.fronts {
			left = append(left, f)
		}
		s.mu.Unlock()
		for _, f := range left {
			f.Close()
		}
		return fmt.Errorf("smtp: shutdown: %w", ctx.Err())
	}
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) track(f *front) {
	s.mu.Lock()
	s.fronts[f] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) untrack(f *front) {
	s.mu.Lock()
	delete(s.fronts, f)
	s.mu.Unlock()
}

// listener wraps each accepted connection in a front.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	f := newFront(l.s, c)
	l.s.track(f)
	return f, nil
}

// backend creates one session per connection (go-smtp calls it at the
// first HELO/EHLO).
type backend struct{ s *Server }

func (b backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	f, ok := c.Conn().(*front)
	if !ok {
		return nil, errors.New("smtp: connection not accepted by this server")
	}
	return newSession(b.s, f, c), nil
}

// engineLog sends go-smtp's internal errors (panics, I/O failures) to slog.
type engineLog struct{ log *slog.Logger }

func (l engineLog) Printf(format string, v ...any) {
	l.log.Warn("smtp: engine: " + fmt.Sprintf(format, v...))
}

func (l engineLog) Println(v ...any) { l.log.Warn("smtp: engine: " + fmt.Sprint(v...)) }
