package smtp

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/server/auth"
)

// session is go-smtp's Session for one connection: the envelope policy of
// the listener's Mode and the delivery. go-smtp calls it from the
// connection goroutine, except Data during BDAT (its own goroutine, while
// the connection goroutine only reads chunks) and Logout.
type session struct {
	s   *Server
	f   *front
	c   *gosmtp.Conn
	log *slog.Logger

	user string // authenticated user, submission only

	// The transaction (RFC 5321 §3.3), cleared by Reset. mu guards it:
	// during BDAT, go-smtp runs Data in its own goroutine and may call
	// Reset (RSET, a failed chunk) while Data is still finishing.
	mu       sync.Mutex
	hasFrom  bool
	helo     string
	greeting string
	from     string
	utf8     bool
	rcpts    []string // envelope recipients as accepted, for Received
	local    []string // local mailboxes, deduplicated
	remote   []string // remote addresses (submission, or alias forwards)
}

func newSession(s *Server, f *front, c *gosmtp.Conn) *session {
	ss := &session{s: s, f: f, c: c, log: f.log}
	f.session = ss
	return ss
}

// busy reports whether STARTTLS must be refused: after AUTH or inside a
// transaction (the knowledge would carry over into the TLS session).
func (ss *session) busy() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.user != "" || ss.hasFrom
}

// envelope is a copy of the transaction for Data.
type envelope struct {
	helo, greeting string // HELO/EHLO argument and which of the two
	from           string
	utf8           bool
	rcpts          []string
	local, remote  []string
}

func (ss *session) envelope() envelope {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return envelope{helo: ss.helo, greeting: ss.greeting, from: ss.from, utf8: ss.utf8, rcpts: ss.rcpts, local: ss.local, remote: ss.remote}
}

// plaintextAllowed is DESIGN.md §5 for this connection: AUTH needs TLS,
// unless the client is this machine (its address equals the connection's
// local address, as Dovecot decides) or allow_plaintext is set.
func plaintextAllowed(f *front, allowPlaintext bool) bool {
	return f.tlsState != nil || allowPlaintext || (f.remote.IsValid() && f.remote == f.local)
}

// AuthMechanisms is what EHLO advertises: nothing on port 25, and on
// submission only where a password may be sent.
func (ss *session) AuthMechanisms() []string {
	if !ss.s.opts.Mode.submission() || !plaintextAllowed(ss.f, ss.s.opts.AllowPlaintext) {
		return nil
	}
	return []string{mechPlain, mechLogin}
}

// Auth starts a SASL exchange (go-smtp has checked EHLO and "not yet").
func (ss *session) Auth(mech string) (sasl.Server, error) {
	switch {
	case !ss.s.opts.Mode.submission():
		return nil, replyErr(502, enhNotImplemented, "AUTH not available on this port; use submission")
	case !plaintextAllowed(ss.f, ss.s.opts.AllowPlaintext):
		return nil, replyErr(538, enhEncryptionReq, "Encryption required for requested authentication mechanism")
	}
	switch strings.ToUpper(mech) {
	case mechPlain:
		return &plainServer{check: ss.login}, nil
	case mechLogin:
		return &loginServer{check: ss.login}, nil
	}
	return nil, replyErr(504, enhBadArgs, "Unrecognized authentication mechanism")
}

func (ss *session) login(authzid, user, pass string) error {
	if authzid != "" && !strings.EqualFold(authzid, user) {
		// Acting as someone else is not offered (RFC 4616 §2).
		ss.log.Info("smtp: AUTH with a different authorization identity refused", "user", user)
		return replyErr(535, enhAuthFailed, "Authentication credentials invalid")
	}
	canonical, err := ss.s.opts.Auth.Authenticate(ss.f.ctx, ss.f.remote, user, pass)
	if err != nil {
		reply := authErr(err)
		if reply.Code == 454 && !errors.Is(err, auth.ErrThrottled) {
			ss.log.Error("smtp: authentication backend failed", "err", err)
		}
		return reply
	}
	ss.user = canonical
	ss.log.Info("smtp: authenticated", "user", canonical)
	return nil
}

// Mail starts a transaction (RFC 5321 §4.1.1.2).
func (ss *session) Mail(from string, opts *gosmtp.MailOptions) error {
	ss.mu.Lock()
	hasFrom := ss.hasFrom
	ss.mu.Unlock()
	switch {
	case ss.s.opts.Mode.submission() && ss.user == "":
		return replyErr(530, enhAuthRequired, "Authentication required")
	case hasFrom:
		return replyErr(503, enhBadSequence, "Nested MAIL command")
	case opts != nil && opts.Size > ss.s.limits.MaxMessageSize:
		return replyErr(552, enhTooBig, "Message size exceeds fixed maximum message size")
	}
	if ss.s.opts.Mode.submission() {
		if err := ss.checkSender(from); err != nil {
			return err
		}
	}
	ss.mu.Lock()
	ss.hasFrom, ss.from = true, from
	ss.helo, ss.greeting = ss.c.Hostname(), ss.f.greeting
	ss.utf8 = opts != nil && opts.UTF8
	ss.mu.Unlock()
	return nil
}

// checkSender enforces that an authenticated user sends only as itself or
// as an alias that reaches it (the null sender is allowed, for bounces
// and receipts). The same rule is applied to the From header field.
func (ss *session) checkSender(addr string) error {
	if addr == "" {
		return nil
	}
	ok, err := ss.owns(addr)
	if err != nil {
		ss.log.Error("smtp: sender lookup failed", "from", addr, "err", err)
		return replyErr(451, enhLocalError, "Local error checking the sender, try again later")
	}
	if !ok {
		ss.log.Info("smtp: sender refused", "user", ss.user, "from", addr)
		return replyErr(553, enhNotOwner, "Sender address not owned by the authenticated user")
	}
	return nil
}

// owns reports whether addr is the user's own address (a +tag included) or
// an alias or list that delivers to the user.
func (ss *session) owns(addr string) (bool, error) {
	addr = strings.ToLower(addr)
	if addr == ss.user {
		return true, nil
	}
	_, domain, found := strings.Cut(addr, "@")
	if !found || !ss.s.opts.IsLocalDomain(domain) {
		return false, nil
	}
	targets, err := ss.s.opts.Directory.Lookup(addr)
	if errors.Is(err, auth.ErrNoSuchUser) || errors.Is(err, auth.ErrBadAddress) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, t := range targets {
		if strings.EqualFold(t, ss.user) {
			return true, nil
		}
	}
	return false, nil
}

// Rcpt accepts a recipient (RFC 5321 §4.1.1.3). go-smtp has already
// checked the sequence and Limits.MaxRecipients (452 4.5.3).
func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	addr := strings.ToLower(to)
	localPart, domain, found := strings.Cut(addr, "@")
	if !found || domain == "" {
		return replyErr(553, enhBadDestSyntax, "Recipient address must be user@domain")
	}
	domain = strings.TrimSuffix(domain, ".")
	addr = localPart + "@" + domain
	if !ss.s.opts.IsLocalDomain(domain) {
		if !ss.s.opts.Mode.submission() {
			// Port 25 never relays, whatever the client says.
			ss.log.Info("smtp: relay denied", "rcpt", to)
			return replyErr(554, enhRelayDenied, "Relay access denied")
		}
		if ss.s.opts.Queue == nil {
			return replyErr(451, enhLocalError, "Outbound delivery not available yet, try again later")
		}
		ss.accept(to, nil, []string{addr})
		return nil
	}
	targets, err := ss.s.opts.Directory.Lookup(addr)
	switch {
	case errors.Is(err, auth.ErrNoSuchUser):
		ss.log.Info("smtp: unknown recipient", "rcpt", to)
		return replyErr(550, enhNoSuchUser, "No such user here")
	case errors.Is(err, auth.ErrBadAddress):
		return replyErr(553, enhBadDestSyntax, "Recipient address not valid here")
	case err != nil:
		ss.log.Error("smtp: recipient lookup failed", "rcpt", to, "err", err)
		return replyErr(451, enhLocalError, "Local error looking up the recipient, try again later")
	}
	var local, remote []string
	for _, t := range targets {
		_, d, _ := strings.Cut(t, "@")
		if ss.s.opts.IsLocalDomain(d) {
			local = append(local, t)
		} else {
			remote = append(remote, t)
		}
	}
	if len(local)+len(remote) == 0 {
		// Never accept a recipient whose mail would go nowhere.
		ss.log.Warn("smtp: recipient resolves to no mailbox", "rcpt", to)
		return replyErr(550, enhNoSuchUser, "No such user here")
	}
	if len(remote) > 0 && ss.s.opts.Queue == nil {
		// An alias forwarding elsewhere: refused for now, never dropped.
		return replyErr(451, enhLocalError, "Outbound delivery not available yet, try again later")
	}
	ss.accept(to, local, remote)
	return nil
}

func (ss *session) accept(to string, local, remote []string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.rcpts = append(ss.rcpts, to)
	ss.local = appendNew(ss.local, local...)
	ss.remote = appendNew(ss.remote, remote...)
}

func appendNew(list []string, add ...string) []string {
next:
	for _, a := range add {
		for _, l := range list {
			if l == a {
				continue next
			}
		}
		list = append(list, a)
	}
	return list
}

// Data receives the message (data.go); go-smtp calls Reset afterwards.
func (ss *session) Data(r io.Reader) error {
	return ss.deliver(r, ss.envelope())
}

// Reset ends the transaction (RSET, EHLO, after DATA, and STARTTLS).
func (ss *session) Reset() { ss.clear() }

func (ss *session) clear() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.hasFrom, ss.from, ss.utf8 = false, "", false
	ss.rcpts, ss.local, ss.remote = nil, nil, nil
}

// Logout ends the session; the connection's context is already done or
// ends with the connection.
func (ss *session) Logout() error { return nil }

var _ gosmtp.AuthSession = (*session)(nil)
