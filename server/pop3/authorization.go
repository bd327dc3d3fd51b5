package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/maildird/maildird/server/auth"
)

// authTimeout bounds one credentials check, including the throttle's delay.
const authTimeout = 30 * time.Second

// RFC 2449 §5: CAPA lists what the current state offers.
func (s *session) cmdCapa(args []string) error {
	if len(args) != 0 {
		return s.fail("CAPA takes no arguments")
	}
	s.reply("+OK capability list follows")
	for _, c := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION maildird"} {
		s.reply("%s", c)
	}
	if s.state == stAuthorization {
		if s.plaintextAllowed() {
			s.reply("USER")
			s.reply("SASL PLAIN")
		}
		if s.srv.opts.TLS != nil && !s.tls {
			s.reply("STLS")
		}
	}
	s.reply(".")
	return nil
}

// RFC 2595 §4: STLS, then a fresh AUTHORIZATION state.
func (s *session) cmdStls(args []string) error {
	if len(args) != 0 {
		return s.fail("STLS takes no arguments")
	}
	if s.tls {
		return s.fail("TLS is already active")
	}
	if s.srv.opts.TLS == nil {
		return s.fail("TLS is not available")
	}
	if s.r.Buffered() > 0 {
		// Commands pipelined behind STLS would be read as plaintext
		// sent before the handshake (a STARTTLS command injection).
		s.reply("-ERR commands sent after STLS before the TLS handshake")
		return errQuit
	}
	s.reply("+OK begin TLS negotiation")
	if err := s.w.Flush(); err != nil {
		return err
	}
	tc := tls.Server(s.conn, s.srv.opts.TLS)
	s.conn = tc
	s.r = bufio.NewReaderSize(tc, 4096)
	s.w = bufio.NewWriterSize(deadlineWriter{tc}, 32<<10)
	s.tls = true
	s.userArg = ""
	return s.handshake()
}

func (s *session) cmdUser(args []string) error {
	if !s.plaintextAllowed() {
		return s.fail("[AUTH] plaintext authentication is disallowed on non-secure connections; use STLS first")
	}
	if len(args) != 1 {
		return s.fail("usage: USER name")
	}
	s.userArg = args[0]
	s.reply("+OK")
	return nil
}

func (s *session) cmdPass(args []string) error {
	if !s.plaintextAllowed() {
		return s.fail("[AUTH] plaintext authentication is disallowed on non-secure connections; use STLS first")
	}
	if s.userArg == "" {
		return s.fail("USER first")
	}
	user := s.userArg
	s.userArg = ""
	if len(args) == 0 {
		return s.fail("usage: PASS password")
	}
	// RFC 1939 §7: the password is the rest of the line, spaces included.
	return s.login(user, s.rest)
}

// RFC 5034: AUTH PLAIN, with or without an initial response.
func (s *session) cmdAuth(args []string) error {
	if len(args) == 0 {
		// The pre-RFC 5034 listing form that some clients still send.
		s.reply("+OK")
		if s.plaintextAllowed() {
			s.reply("PLAIN")
		}
		s.reply(".")
		return nil
	}
	if !strings.EqualFold(args[0], "PLAIN") {
		return s.fail("[AUTH] unsupported authentication mechanism")
	}
	if !s.plaintextAllowed() {
		return s.fail("[AUTH] plaintext authentication is disallowed on non-secure connections; use STLS first")
	}
	if len(args) > 2 {
		return s.fail("usage: AUTH PLAIN [initial-response]")
	}
	resp := ""
	if len(args) == 2 {
		resp = args[1]
	} else {
		s.reply("+ ")
		line, err := s.readLine()
		if err != nil {
			return err
		}
		resp = strings.TrimSpace(line)
	}
	if resp == "*" {
		return s.fail("authentication cancelled")
	}
	if resp == "=" { // RFC 5034 §4: an empty initial response
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return s.fail("[AUTH] invalid base64")
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 {
		return s.fail("[AUTH] malformed PLAIN response")
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return s.fail("[AUTH] logging in as another user is not supported")
	}
	return s.login(user, pass)
}

// login checks credentials and, on success, opens the maildrop and enters
// TRANSACTION.
func (s *session) login(user, pass string) error {
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	canonical, err := s.srv.opts.Auth.Authenticate(ctx, s.remote, user, pass)
	if err != nil {
		if errors.Is(err, auth.ErrThrottled) {
			return s.fail("[AUTH] too many failed logins; try again later")
		}
		if !errors.Is(err, auth.ErrBadCredentials) && !errors.Is(err, auth.ErrNoSuchUser) {
			s.log.Error("pop3: authentication error", "err", err)
			return s.fail("[SYS/TEMP] authentication is unavailable; try again later")
		}
		return s.fail("[AUTH] authentication failed")
	}
	mbox, err := s.srv.opts.Store.OpenInbox(canonical)
	if err != nil {
		if errors.Is(err, ErrInUse) {
			return s.fail("[IN-USE] the maildrop is busy; try again shortly")
		}
		s.log.Error("pop3: opening the maildrop", "user", canonical, "err", err)
		return s.fail("[SYS/TEMP] cannot open the maildrop")
	}
	s.user, s.mbox = canonical, mbox
	s.msgs = mbox.Messages()
	s.deleted = make([]bool, len(s.msgs))
	s.retrieved = make([]bool, len(s.msgs))
	s.log = s.log.With("user", canonical)
	s.log.Info("pop3: login", "messages", len(s.msgs), "tls", s.tls)
	s.setState(stTransaction)
	count, size := s.stat()
	s.reply("+OK logged in; %d messages (%d octets)", count, size)
	return nil
}

// RFC 1939 §6: QUIT in AUTHORIZATION leaves; in TRANSACTION it enters UPDATE.
func (s *session) cmdQuit(args []string) error {
	if s.state == stAuthorization {
		s.reply("+OK bye")
		s.w.Flush()
		return errQuit
	}
	s.setState(stUpdate)
	var seen, gone []uint32
	for i, m := range s.msgs {
		switch {
		case s.deleted[i]:
			gone = append(gone, m.UID)
		case s.retrieved[i]:
			seen = append(seen, m.UID)
		}
	}
	var failed bool
	if len(seen) > 0 {
		if err := s.mbox.MarkSeen(seen); err != nil {
			s.log.Error("pop3: marking retrieved messages seen", "err", err)
		}
	}
	if len(gone) > 0 {
		if err := s.mbox.Expunge(gone); err != nil {
			s.log.Error("pop3: expunging deleted messages", "err", err)
			failed = true
		}
	}
	s.log.Info("pop3: logout", "deleted", len(gone), "retrieved", len(seen), "ok", !failed)
	if failed {
		s.reply("-ERR [SYS/TEMP] some deleted messages were not removed")
	} else {
		s.reply("+OK bye (%d messages left)", len(s.msgs)-len(gone))
	}
	s.w.Flush()
	return errQuit
}
