package imap

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// session is one connection's state; imapserver calls its methods from
// the connection's goroutine (Idle from a second one while the first waits
// for DONE).
type session struct {
	srv    *Server
	conn   *imapserver.Conn
	log    *slog.Logger
	remote netip.Addr
	local  netip.Addr

	user string        // set by Login
	sel  *selection    // the selected folder, nil outside the selected state
	res  goimap.UIDSet // the saved SEARCH result (RFC 5182), as UIDs

	authed     atomic.Bool
	lastActive atomic.Int64 // Unix nanoseconds of the last command
	idling     atomic.Bool

	timerMu sync.Mutex
	timer   *time.Timer
	closed  bool
	byeOnce sync.Once
}

// selection is a session's part of a selected folder.
type selection struct {
	box      *sharedBox
	tracker  *imapserver.SessionTracker
	readOnly bool
	name     string
	recent   map[uint32]struct{} // \Recent messages of this session
	wake     chan struct{}       // updates queued (for IDLE)
}

var _ imapserver.SessionIMAP4rev2 = (*session)(nil)
var _ imapserver.SessionAppendLimit = (*session)(nil)

func newSession(srv *Server, c *imapserver.Conn) *session {
	nc := c.NetConn()
	s := &session{
		srv:    srv,
		conn:   c,
		remote: addrOf(nc.RemoteAddr()),
		local:  addrOf(nc.LocalAddr()),
	}
	s.log = srv.log.With("remote", nc.RemoteAddr().String())
	s.touch()
	// The login deadline counts from the connection's start, STARTTLS
	// (a new imapserver.Conn and session) or not.
	s.timer = time.AfterFunc(srv.opts.LoginTimeout-connAge(nc), s.checkTimeout)
	return s
}

// touch records activity for the autologout timer.
func (s *session) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// checkTimeout runs from the timer: a connection that has not logged in
// within LoginTimeout, or has been silent for Autologout outside IDLE, is
// told BYE and closed (RFC 3501 §5.4).
func (s *session) checkTimeout() {
	if !s.authed.Load() {
		s.bye("Too slow to log in")
		return
	}
	next := s.srv.opts.Autologout
	if !s.idling.Load() {
		idle := time.Since(time.Unix(0, s.lastActive.Load()))
		if idle >= s.srv.opts.Autologout {
			s.bye("Autologout; idle for too long")
			return
		}
		next -= idle
	}
	s.timerMu.Lock()
	if !s.closed {
		s.timer.Reset(next)
	}
	s.timerMu.Unlock()
}

// loggedIn switches the timer from the login deadline to autologout.
func (s *session) loggedIn() {
	s.authed.Store(true)
	s.touch()
	s.timerMu.Lock()
	if !s.closed {
		s.timer.Reset(s.srv.opts.Autologout)
	}
	s.timerMu.Unlock()
}

// bye tells the client the connection ends, and ends it.
func (s *session) bye(text string) {
	s.byeOnce.Do(func() {
		s.log.Info("imap: closing connection", "reason", text)
		s.conn.Bye(text)
	})
}

// Close is called by imapserver when the connection ends.
func (s *session) Close() error {
	s.timerMu.Lock()
	s.closed = true
	s.timer.Stop()
	s.timerMu.Unlock()
	s.unselect()
	s.srv.sessionDone(s)
	return nil
}

// onTLS reports whether the connection is encrypted now.
func (s *session) onTLS() bool {
	_, ok := unwrapConn(s.conn.NetConn()).(*tls.Conn)
	return ok
}

// AppendLimit is the APPENDLIMIT (RFC 7889); imapserver refuses bigger
// APPEND literals before reading them.
func (s *session) AppendLimit() uint32 { return uint32(s.srv.opts.MaxMessageSize) }

// notSelected is the error for commands that need a selected folder;
// imapserver checks the state itself, so this is a safety net.
var errNotSelected = &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "No mailbox selected"}
