package pop3

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildird/maildird/server/auth"
)

const (
	msg1 = "From: bob@example.net\r\nSubject: one\r\n\r\nfirst line\r\n.starts with a dot\r\n..two dots\r\nlast\r\n"
	msg2 = "Subject: two\r\n\r\nno final line end"
	msg3 = "Subject: three\r\nX-Long: yes\r\n\r\na\r\nb\r\nc\r\n"
)

func (h *harness) fill() {
	for _, m := range []string{msg1, msg2, msg3} {
		h.store.add("alice@example.org", m)
	}
}

func TestCapaDependsOnTLSAndState(t *testing.T) {
	h := newHarness(t, nil)
	local := h.dial()
	local.cmd("CAPA", "+OK")
	caps := local.multiline()
	for _, want := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION maildird", "USER", "SASL PLAIN", "STLS"} {
		if !slices.Contains(caps, want) {
			t.Errorf("CAPA from the machine itself lacks %q: %q", want, caps)
		}
	}
	local.login()
	local.cmd("CAPA", "+OK")
	if caps := local.multiline(); slices.Contains(caps, "USER") || slices.Contains(caps, "STLS") {
		t.Errorf("CAPA in TRANSACTION offers login commands: %q", caps)
	}

	// From another address, passwords wait for TLS (DESIGN.md §5).
	remote := h.dialFrom("127.0.0.2")
	remote.cmd("CAPA", "+OK")
	caps = remote.multiline()
	if slices.Contains(caps, "USER") || slices.Contains(caps, "SASL PLAIN") || !slices.Contains(caps, "STLS") {
		t.Errorf("CAPA without TLS from another machine: %q", caps)
	}
	remote.cmd("USER alice@example.org", "-ERR [AUTH] plaintext")
	remote.cmd("AUTH PLAIN "+plain("", "alice@example.org", "secret pw"), "-ERR [AUTH] plaintext")
}

func plain(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func TestSTLSThenLogin(t *testing.T) {
	h := newHarness(t, nil)
	h.fill()
	c := h.dialFrom("127.0.0.2")
	c.cmd("STLS", "+OK begin TLS")
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	c.cmd("CAPA", "+OK")
	if caps := c.multiline(); !slices.Contains(caps, "USER") || slices.Contains(caps, "STLS") {
		t.Errorf("CAPA after STLS: %q", caps)
	}
	c.cmd("STLS", "-ERR TLS is already active")
	c.login()
	c.cmd("STAT", "+OK 3 ")
}

func TestSTLSRefusesPipelinedCommands(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dialFrom("127.0.0.2")
	c.send("STLS\r\nUSER alice@example.org")
	c.expect("-ERR commands sent after STLS")
	c.closed()
}

func TestTransaction(t *testing.T) {
	h := newHarness(t, nil)
	h.fill()
	c := h.dial()
	c.cmd("STAT", "-ERR STAT is not allowed in the AUTHORIZATION state")
	c.login()
	size := len(msg1) + len(msg2) + len(msg3)
	c.cmd("STAT", "+OK 3 "+itoa(size))
	c.cmd("LIST", "+OK 3 messages")
	if got := c.multiline(); !slices.Equal(got, []string{"1 " + itoa(len(msg1)), "2 " + itoa(len(msg2)), "3 " + itoa(len(msg3))}) {
		t.Errorf("LIST: %q", got)
	}
	c.cmd("LIST 2", "+OK 2 "+itoa(len(msg2)))
	c.cmd("UIDL", "+OK")
	if got := c.multiline(); !slices.Equal(got, []string{"1 000000015f000001", "2 000000025f000001", "3 000000035f000001"}) {
		t.Errorf("UIDL: %q", got)
	}
	c.cmd("UIDL 3", "+OK 3 000000035f000001")

	c.cmd("RETR 1", "+OK "+itoa(len(msg1))+" octets")
	if got := strings.Join(c.multiline(), "\r\n") + "\r\n"; got != msg1 {
		t.Errorf("RETR 1 gave %q, want %q", got, msg1)
	}
	c.cmd("RETR 2", "+OK")
	if got := c.multiline(); !slices.Equal(got, []string{"Subject: two", "", "no final line end"}) {
		t.Errorf("RETR 2: %q", got)
	}
	c.cmd("TOP 3 0", "+OK")
	if got := c.multiline(); !slices.Equal(got, []string{"Subject: three", "X-Long: yes", ""}) {
		t.Errorf("TOP 3 0: %q", got)
	}
	c.cmd("TOP 3 2", "+OK")
	if got := c.multiline(); !slices.Equal(got, []string{"Subject: three", "X-Long: yes", "", "a", "b"}) {
		t.Errorf("TOP 3 2: %q", got)
	}

	c.cmd("DELE 2", "+OK message 2 deleted")
	c.cmd("DELE 2", "-ERR message 2 already deleted")
	c.cmd("RETR 2", "-ERR message 2 already deleted")
	c.cmd("LIST 2", "-ERR message 2 already deleted")
	c.cmd("STAT", "+OK 2 "+itoa(len(msg1)+len(msg3)))
	c.cmd("RSET", "+OK maildrop has 3 messages")
	c.cmd("DELE 3", "+OK")
	c.cmd("LIST", "+OK 2 messages")
	if got := c.multiline(); !slices.Equal(got, []string{"1 " + itoa(len(msg1)), "2 " + itoa(len(msg2))}) {
		t.Errorf("LIST after DELE 3: %q", got)
	}
	c.cmd("NOOP", "+OK")
	c.cmd("QUIT", "+OK bye (2 messages left)")
	c.closed()

	// UPDATE: the deleted message is expunged; retrieved ones (not TOP)
	// are marked seen.
	if !slices.Equal(h.store.expunged, []uint32{3}) {
		t.Errorf("expunged %v, want [3]", h.store.expunged)
	}
	if !slices.Equal(h.store.seen, []uint32{1, 2}) {
		t.Errorf("seen %v, want [1 2]", h.store.seen)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDroppedConnectionDeletesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.fill()
	c := h.dial()
	c.login()
	c.cmd("DELE 1", "+OK")
	c.cmd("RETR 2", "+OK")
	c.multiline()
	c.conn.Close()
	time.Sleep(100 * time.Millisecond)
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	if len(h.store.expunged) != 0 || len(h.store.seen) != 0 || len(h.store.msgs["alice@example.org"]) != 3 {
		t.Errorf("a dropped session changed the maildrop: expunged %v seen %v", h.store.expunged, h.store.seen)
	}
}

func TestMaildropIsFixedAtLogin(t *testing.T) {
	h := newHarness(t, nil)
	h.fill()
	c := h.dial()
	c.login()
	h.store.add("alice@example.org", "Subject: late\r\n\r\nx\r\n")
	c.cmd("STAT", "+OK 3 ")
	c.cmd("RETR 4", "-ERR no such message 4")
	c.cmd("QUIT", "+OK")
	d := h.dial()
	d.login()
	d.cmd("STAT", "+OK 4 ")
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxErrors = 100 })
	h.fill()
	c := h.dial()
	c.cmd("", "-ERR empty command")
	c.cmd("XYZZY", "-ERR unknown command XYZZY")
	c.cmd("APOP alice 0123456789abcdef", "-ERR APOP is not supported")
	c.cmd("PASS secret", "-ERR USER first")
	c.cmd("USER", "-ERR usage: USER name")
	c.cmd("USER alice@example.org", "+OK")
	c.cmd("PASS wrong", "-ERR [AUTH] authentication failed")
	c.cmd("PASS secret pw", "-ERR USER first") // a failed PASS forgets the USER
	c.login()
	for _, bad := range []string{"RETR", "RETR 0", "RETR -1", "RETR +1", "RETR abc", "RETR 4", "RETR 99999999999999999999", "TOP 1", "TOP 1 -1", "TOP 1 x", "DELE", "LIST 1 2", "STAT x", "USER bob", "STLS"} {
		c.cmd(bad, "-ERR")
	}
	c.cmd("STAT", "+OK 3 ") // still usable
}

func TestTooManyErrorsCloses(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxErrors = 3 })
	c := h.dial()
	c.cmd("BAD", "-ERR")
	c.cmd("BAD", "-ERR")
	c.cmd("BAD", "-ERR too many errors")
	c.closed()
}

func TestOverlongLineCloses(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.send("USER " + strings.Repeat("x", 3000))
	c.expect("-ERR line too long")
	c.closed()
}

func TestHTTPRequestCloses(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.send("GET / HTTP/1.1")
	c.expect("-ERR this is a POP3 server")
	c.closed()
}

func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.IdleTimeout = 200 * time.Millisecond })
	c := h.dial()
	c.expect("-ERR disconnected for inactivity")
	c.closed()
}

func TestAuthPlain(t *testing.T) {
	h := newHarness(t, nil)
	h.fill()
	c := h.dial()
	c.cmd("AUTH", "+OK")
	if got := c.multiline(); !slices.Equal(got, []string{"PLAIN"}) {
		t.Errorf("AUTH listing %q", got)
	}
	c.cmd("AUTH CRAM-MD5", "-ERR [AUTH] unsupported")
	c.cmd("AUTH PLAIN !!!", "-ERR [AUTH] invalid base64")
	c.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("no nuls")), "-ERR [AUTH] malformed")
	c.cmd("AUTH PLAIN "+plain("bob@example.org", "alice@example.org", "secret pw"), "-ERR [AUTH] logging in as another user")
	c.cmd("AUTH PLAIN "+plain("", "alice@example.org", "wrong"), "-ERR [AUTH] authentication failed")
	c.cmd("AUTH PLAIN", "+ ")
	c.cmd("*", "-ERR authentication cancelled")
	c.cmd("AUTH PLAIN", "+ ")
	c.cmd(plain("alice@example.org", "alice@example.org", "secret pw"), "+OK logged in; 3 messages")

	d := h.dial()
	d.cmd("AUTH PLAIN "+plain("", "alice@example.org", "secret pw"), "+OK logged in")
}

func TestLoginErrorsGetResponseCodes(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	h.auth.err = auth.ErrThrottled
	c.cmd("USER alice@example.org", "+OK")
	c.cmd("PASS secret pw", "-ERR [AUTH] too many failed logins")
	h.auth.err = errors.New("disk on fire")
	c.cmd("USER alice@example.org", "+OK")
	c.cmd("PASS secret pw", "-ERR [SYS/TEMP] authentication is unavailable")
	h.auth.err = nil
	h.store.openErr = ErrInUse
	c.cmd("USER alice@example.org", "+OK")
	c.cmd("PASS secret pw", "-ERR [IN-USE]")
	h.store.openErr = errors.New("broken")
	c.cmd("USER alice@example.org", "+OK")
	c.cmd("PASS secret pw", "-ERR [SYS/TEMP] cannot open the maildrop")
}

func TestPipelining(t *testing.T) {
	h := newHarness(t, nil)
	h.fill()
	c := h.dial()
	c.send("USER alice@example.org\r\nPASS secret pw\r\nSTAT\r\nUIDL 1\r\nQUIT")
	c.expect("+OK")
	c.expect("+OK logged in")
	c.expect("+OK 3 ")
	c.expect("+OK 1 000000015f000001")
	c.expect("+OK bye")
	c.closed()
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.login()
	go h.srv.Shutdown(t.Context())
	c.expect("-ERR [SYS/TEMP] server shutting down")
	c.closed()
}

func TestWriteDotStuffed(t *testing.T) {
	long := strings.Repeat("x", 40000)
	cases := []struct {
		in   string
		top  int
		want string
	}{
		{"a\r\n.b\r\n\r\n.\r\n", -1, "a\r\n..b\r\n\r\n..\r\n.\r\n"},
		{"", -1, ".\r\n"},
		{"no end", -1, "no end\r\n.\r\n"},
		// A dot in the middle of a long line (past the read buffer) is
		// not at a line start and is not stuffed.
		{long + ".x\r\n.y\r\n", -1, long + ".x\r\n..y\r\n.\r\n"},
		{"H: 1\r\n\r\nb1\r\nb2\r\n", 1, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"H: 1\r\n\r\nb1\r\n", 0, "H: 1\r\n\r\n.\r\n"},
		{"H: 1\r\n\r\nb1\r\n", 5, "H: 1\r\n\r\nb1\r\n.\r\n"},
		{"H: only a header", 0, "H: only a header\r\n.\r\n"},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := writeDotStuffed(w, strings.NewReader(tc.in), tc.top); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if buf.String() != tc.want {
			t.Errorf("writeDotStuffed(%.30q, %d) = %.60q, want %.60q", tc.in, tc.top, buf.String(), tc.want)
		}
	}
}
