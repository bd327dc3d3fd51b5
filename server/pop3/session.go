package pop3

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// state is a session's RFC 1939 state.
type state int

const (
	stAuthorization state = iota
	stTransaction
	stUpdate
)

func (s state) String() string {
	return [...]string{"AUTHORIZATION", "TRANSACTION", "UPDATE"}[s]
}

// maxLineLength bounds a command line. RFC 2449 §4 allows 255 octets for
// a command; SASL responses (a base64 AUTH PLAIN) can be longer.
const maxLineLength = 2048

// writeTimeout bounds each write to a client that stopped reading.
const writeTimeout = 5 * time.Minute

// errQuit ends the command loop after the reply has been sent.
var errQuit = errors.New("pop3: session over")

type session struct {
	srv    *Server
	conn   net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	log    *slog.Logger
	remote netip.Addr
	local  netip.Addr
	tls    bool

	state       state
	errors      int
	interrupted atomic.Bool

	rest string // the command line after the command name and one space

	// AUTHORIZATION
	userArg string // the USER argument awaiting PASS

	// TRANSACTION
	user      string
	mbox      Mailbox
	msgs      []Message // the maildrop as at login; numbers are index+1
	deleted   []bool
	retrieved []bool
}

func newSession(srv *Server, c net.Conn) *session {
	s := &session{srv: srv, conn: c}
	s.remote = addrOf(c.RemoteAddr())
	s.local = addrOf(c.LocalAddr())
	_, s.tls = c.(*tls.Conn)
	s.log = srv.log.With("remote", c.RemoteAddr().String())
	s.r = bufio.NewReaderSize(c, 4096)
	s.w = bufio.NewWriterSize(deadlineWriter{c}, 32<<10)
	return s
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// deadlineWriter gives every write its own deadline, so a client that
// stops reading in the middle of a big RETR is dropped, not waited for.
type deadlineWriter struct{ c net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	return d.c.Write(p)
}

// interrupt asks the session to end at its next read (server shutdown).
func (s *session) interrupt() {
	s.interrupted.Store(true)
	s.conn.SetReadDeadline(time.Now())
}

func (s *session) serve() {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("pop3: panic in session", "panic", v)
			s.reply("-ERR [SYS/PERM] internal server error")
		}
		if s.mbox != nil {
			s.mbox.Close()
		}
		s.w.Flush()
		s.conn.Close()
	}()
	if s.tls {
		if err := s.handshake(); err != nil {
			return
		}
	}
	s.reply("+OK maildird ready.")
	for {
		line, err := s.readLine()
		if err != nil {
			s.readFailed(err)
			return
		}
		if err := s.dispatch(line); err != nil {
			if !errors.Is(err, errQuit) {
				s.log.Debug("pop3: session ended", "err", err)
			}
			return
		}
	}
}

// handshake completes implicit TLS (port 995) under a deadline.
func (s *session) handshake() error {
	tc := s.conn.(*tls.Conn)
	tc.SetDeadline(time.Now().Add(time.Minute))
	defer tc.SetDeadline(time.Time{})
	if err := tc.Handshake(); err != nil {
		s.log.Debug("pop3: TLS handshake failed", "err", err)
		return err
	}
	return nil
}

func (s *session) readFailed(err error) {
	switch {
	case s.interrupted.Load():
		s.reply("-ERR [SYS/TEMP] server shutting down, try again shortly")
	case errors.Is(err, errLineTooLong):
		s.reply("-ERR line too long")
	case isTimeout(err):
		s.reply("-ERR disconnected for inactivity")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var errLineTooLong = errors.New("pop3: line too long")

// readLine reads one CRLF (or bare LF) terminated line under the idle
// timeout, without the line end.
func (s *session) readLine() (string, error) {
	if s.interrupted.Load() {
		return "", errors.New("pop3: interrupted")
	}
	if err := s.w.Flush(); err != nil {
		return "", err
	}
	s.conn.SetReadDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
	// interrupt sets the flag before its deadline: checking after ours
	// means one of the two always wins.
	if s.interrupted.Load() {
		return "", errors.New("pop3: interrupted")
	}
	var buf []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineLength {
			return "", errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return string(bytes.TrimRight(buf, "\r\n")), nil
	}
}

// reply queues one response line; it is sent before the next read.
func (s *session) reply(format string, args ...any) {
	if len(args) > 0 {
		fmt.Fprintf(s.w, format, args...)
	} else {
		s.w.WriteString(format)
	}
	s.w.WriteString("\r\n")
}

// fail answers -ERR and counts the error; too many end the session.
func (s *session) fail(format string, args ...any) error {
	s.errors++
	if s.errors >= s.srv.opts.MaxErrors {
		s.reply("-ERR too many errors, closing connection")
		s.w.Flush()
		return errQuit
	}
	s.reply("-ERR "+format, args...)
	return nil
}

// setState is the one place a session changes state.
func (s *session) setState(to state) {
	s.log.Debug("pop3: state", "from", s.state, "to", to)
	s.state = to
}

// plaintextAllowed is DESIGN.md §5: passwords only over TLS, from the
// machine itself (the client's address is the connection's own local
// address), or when the operator allows it everywhere.
func (s *session) plaintextAllowed() bool {
	return s.tls || s.srv.opts.AllowPlaintext || (s.remote.IsValid() && s.remote == s.local)
}

// command is one entry of the dispatch table.
type command struct {
	states  []state
	handler func(s *session, args []string) error
}

var commands = map[string]command{
	"CAPA": {[]state{stAuthorization, stTransaction}, (*session).cmdCapa},
	"QUIT": {[]state{stAuthorization, stTransaction}, (*session).cmdQuit},
	"NOOP": {[]state{stTransaction}, (*session).cmdNoop},
	"STLS": {[]state{stAuthorization}, (*session).cmdStls},
	"USER": {[]state{stAuthorization}, (*session).cmdUser},
	"PASS": {[]state{stAuthorization}, (*session).cmdPass},
	"AUTH": {[]state{stAuthorization}, (*session).cmdAuth},
	"STAT": {[]state{stTransaction}, (*session).cmdStat},
	"LIST": {[]state{stTransaction}, (*session).cmdList},
	"UIDL": {[]state{stTransaction}, (*session).cmdUidl},
	"RETR": {[]state{stTransaction}, (*session).cmdRetr},
	"TOP":  {[]state{stTransaction}, (*session).cmdTop},
	"DELE": {[]state{stTransaction}, (*session).cmdDele},
	"RSET": {[]state{stTransaction}, (*session).cmdRset},
}

func (s *session) dispatch(line string) error {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s.fail("empty command")
	}
	name := strings.ToUpper(fields[0])
	s.rest = ""
	if _, after, ok := strings.Cut(strings.TrimLeft(line, " "), " "); ok {
		s.rest = after
	}
	cmd, ok := commands[name]
	if !ok {
		if name == "APOP" {
			return s.fail("APOP is not supported; use USER/PASS or AUTH PLAIN over TLS")
		}
		if s.state == stAuthorization && isHTTPVerb(name) {
			s.reply("-ERR this is a POP3 server")
			return errQuit
		}
		return s.fail("unknown command %s", printable(name))
	}
	allowed := false
	for _, st := range cmd.states {
		allowed = allowed || st == s.state
	}
	if !allowed {
		return s.fail("%s is not allowed in the %s state", name, s.state)
	}
	return cmd.handler(s, fields[1:])
}

func isHTTPVerb(v string) bool {
	switch v {
	case "GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS":
		return true
	}
	return false
}

// printable keeps client bytes out of replies and logs as they are.
func printable(v string) string {
	if len(v) > 20 {
		v = v[:20]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '?'
		}
		return r
	}, v)
}
