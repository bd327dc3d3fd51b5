package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	mdtls "github.com/maildird/maildird/tls"
)

// handshake starts TLS on r after the server's OK to STARTTLS.
func (r *raw) handshake() {
	r.t.Helper()
	tc := tls.Client(r.conn, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		r.t.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	r.conn = tc
	r.r = bufio.NewReader(tc)
}

// After STARTTLS the connection is served as one on TLS: no second
// greeting, AUTH=PLAIN instead of LOGINDISABLED and STARTTLS, a LOGIN that
// works, and FETCH commands recorded, the connection's reader seeing the
// commands in clear text.
func TestSTARTTLSHandover(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	fetches := ts.fetchRecorder()
	r := ts.rawFrom("127.0.0.2", ts.addr)
	caps := capsOf(r.ok("CAPABILITY"))
	if !slices.Contains(caps, "STARTTLS") || !slices.Contains(caps, "LOGINDISABLED") {
		t.Fatalf("capabilities before TLS: %q", caps)
	}
	if out := r.do("STARTTLS"); len(out) != 1 || out[0] != "t2 OK Begin TLS negotiation now" {
		t.Fatalf("STARTTLS: %q", out)
	}
	r.handshake()
	r.send("n1 NOOP")
	if l := r.line(); !strings.HasPrefix(l, "n1 OK") {
		t.Fatalf("first line on TLS: %q (a second greeting?)", l)
	}
	caps = capsOf(r.ok("CAPABILITY"))
	if slices.Contains(caps, "STARTTLS") || slices.Contains(caps, "LOGINDISABLED") || !slices.Contains(caps, "AUTH=PLAIN") {
		t.Fatalf("capabilities after STARTTLS: %q", caps)
	}
	if out := r.do("STARTTLS"); !strings.Contains(out[len(out)-1], " NO ") && !strings.Contains(out[len(out)-1], " BAD ") {
		t.Fatalf("a second STARTTLS: %q", out)
	}
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	r.ok("SELECT INBOX")
	r.ok(`FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From "Subject")])`)
	want := []string{`t7 FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From "Subject")])`}
	if got := recorded(t, fetches, 1); !slices.Equal(got, want) {
		t.Fatalf("recorded %q, want %q", got, want)
	}
}

// What the client sent behind STARTTLS, in clear text, is thrown away
// (command injection: RFC 3207 §6, RFC 2595 §3.1), whatever the case of
// the command.
func TestSTARTTLSDiscardsPipelinedCommands(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.raw() // from the machine itself, where LOGIN in clear would work
	r.pipeline("a starttls\r\nb LOGIN "+testUser+` "`+testPass+`"`+"\r\n", "a")
	r.handshake()
	r.send("c NOOP")
	if l := r.line(); !strings.HasPrefix(l, "c OK") {
		t.Fatalf("after STARTTLS: %q (the injected LOGIN answered?)", l)
	}
	if out := r.do("SELECT INBOX"); !strings.Contains(out[len(out)-1], " BAD ") {
		t.Fatalf("SELECT after an injected LOGIN: %q", out)
	}
}

// After login, STARTTLS is imapserver's to refuse (RFC 3501 §6.2.1: only
// in the not-authenticated state), and the connection goes on in clear.
func TestSTARTTLSAfterLogin(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.raw()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	if out := r.do("STARTTLS"); !strings.Contains(out[len(out)-1], " BAD ") {
		t.Fatalf("STARTTLS after LOGIN: %q", out)
	}
	r.ok("SELECT INBOX")
}

// A client that never completes the handshake is cut at the deadline,
// with nothing more said in clear text.
func TestSTARTTLSHandshakeDeadline(t *testing.T) {
	defer func(d time.Duration) { startTLSTimeout = d }(startTLSTimeout)
	startTLSTimeout = 300 * time.Millisecond
	ts := newTestServer(t, nil)
	r := ts.raw()
	r.ok("STARTTLS")
	start := time.Now()
	if lines := r.closed(5 * time.Second); len(lines) != 0 {
		t.Fatalf("sent in clear after STARTTLS: %q", lines)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("cut after %v, want about 300ms", d)
	}
	// A garbled handshake ends the connection too.
	r = ts.raw()
	r.ok("STARTTLS")
	io.WriteString(r.conn, "x NOOP\r\n")
	r.closed(5 * time.Second)
}

// The login deadline counts from the connection's start, not from the
// STARTTLS that gave it a new session.
func TestSTARTTLSKeepsTheLoginDeadline(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.LoginTimeout = time.Second })
	start := time.Now()
	r := ts.raw()
	time.Sleep(700 * time.Millisecond)
	r.ok("STARTTLS")
	r.handshake()
	lines := r.closed(5 * time.Second)
	if d := time.Since(start); !hasLine(lines, "* BYE") || d > 1600*time.Millisecond {
		t.Fatalf("after %v: %q", d, lines)
	}
}

// Shutdown says BYE to, and closes, connections that went through
// STARTTLS.
func TestSTARTTLSShutdown(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.raw()
	r.ok("STARTTLS")
	r.handshake()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	if lines := r.closed(5 * time.Second); !hasLine(lines, "* BYE") {
		t.Fatalf("no BYE: %q", lines)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}

// python3's imaplib and curl use STARTTLS, log in and fetch.
func TestSTARTTLSClients(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	t.Run("imaplib", func(t *testing.T) {
		python := needProgram(t, "python3")
		script := `
import imaplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
M = imaplib.IMAP4("127.0.0.1", port, timeout=30)
M.starttls(ssl_context=ssl._create_unverified_context())
assert "STARTTLS" not in M.capabilities and "AUTH=PLAIN" in M.capabilities, M.capabilities
M.login(user, password)
typ, data = M.select("INBOX")
assert typ == "OK" and data[0] == b"1", data
typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"Subject: message 1" in data[0][1], data
M.logout()
print("ok")
`
		if out := runProgram(t, time.Minute, python, "-c", script, ts.port(), testUser, testPass); strings.TrimSpace(out) != "ok" {
			t.Fatalf("imaplib: %s", out)
		}
	})
	t.Run("curl", func(t *testing.T) {
		curl := needProgram(t, "curl")
		out := runProgram(t, time.Minute, curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k",
			"--user", testUser+":"+testPass, "imap://127.0.0.1:"+ts.port()+"/INBOX;UID=1")
		if out != testMessage(1) {
			t.Fatalf("curl got %q", out)
		}
	})
}

// A STARTTLS line that arrives in pieces is still seen whole before any
// of it goes to imapserver; the connection over TLS then sends no
// greeting, reads commands in clear text, and the old connection's Close
// leaves the socket open.
func TestFlushConnSTARTTLSInPieces(t *testing.T) {
	cert, err := mdtls.LoadOrCreateSelfSigned(t.TempDir(), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	defer client.Close()
	handed := make(chan *flushConn, 1)
	f := newFlushConn(server)
	f.up = &upgrader{
		tls: &tls.Config{Certificates: []tls.Certificate{cert}}, log: quietLog(), timeout: 10 * time.Second,
		give: func(c *flushConn) bool { handed <- c; return true },
	}
	clientErr := make(chan error, 1)
	var tc *tls.Conn
	go func() {
		clientErr <- func() error {
			io.WriteString(client, "a START")
			time.Sleep(20 * time.Millisecond)
			io.WriteString(client, "TLS\r\nb LOGIN x y\r\n")
			br := bufio.NewReader(client)
			if l, err := br.ReadString('\n'); err != nil || l != "a OK Begin TLS negotiation now\r\n" {
				return fmt.Errorf("reply to STARTTLS: %q, %v", l, err)
			}
			if br.Buffered() > 0 {
				return fmt.Errorf("more after the reply to STARTTLS")
			}
			tc = tls.Client(client, &tls.Config{InsecureSkipVerify: true})
			return tc.Handshake()
		}()
	}()
	buf := make([]byte, 4096)
	if n, err := f.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read = %q, %v; want EOF", buf[:n], err)
	}
	if err := <-clientErr; err != nil {
		t.Fatal(err)
	}
	next := <-handed
	f.Close()
	go func() {
		next.Write([]byte("* OK [CAPABILITY IMAP4rev1] IMAP server ready\r\n"))
		next.Write([]byte("* hello\r\n"))
		next.Flush()
	}()
	br := bufio.NewReader(tc)
	if l, err := br.ReadString('\n'); err != nil || l != "* hello\r\n" {
		t.Fatalf("first line over TLS: %q, %v", l, err)
	}
	go io.WriteString(tc, "c FETCH 1 (FLAGS)\r\n")
	if n, err := next.Read(buf); err != nil || string(buf[:n]) != "c FETCH 1 (FLAGS)\r\n" {
		t.Fatalf("Read over TLS = %q, %v", buf[:n], err)
	}
	if cmd, ok := next.lastCommand(); !ok || cmd != "c FETCH 1 (FLAGS)" {
		t.Fatalf("lastCommand over TLS = %q, %v", cmd, ok)
	}
	client.Close() // nobody would read the close_notify
	next.Close()
}

// A line that answers a continuation request is no command: "x STARTTLS"
// as an AUTHENTICATE response is a malformed SASL response, not STARTTLS.
// Nor is IDLE's DONE, after which FETCH is recorded as before.
func TestSTARTTLSNotInContinuations(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	fetches := ts.fetchRecorder()
	r := ts.raw()
	r.send("a AUTHENTICATE PLAIN")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("AUTHENTICATE: %q", l)
	}
	r.send("x STARTTLS")
	if l := r.line(); !strings.HasPrefix(l, "a BAD") {
		t.Fatalf("after a SASL response of x STARTTLS: %q", l)
	}
	r.send("b AUTHENTICATE PLAIN")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("AUTHENTICATE: %q", l)
	}
	r.send("AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldCBwdw==") // alice, secret pw
	if l := r.line(); !strings.HasPrefix(l, "b OK") {
		t.Fatalf("AUTHENTICATE PLAIN: %q", l)
	}
	r.ok("SELECT INBOX")
	r.send("i IDLE")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	out := r.pipeline("DONE\r\nc FETCH 1 (UID)\r\n", "c")
	if !hasLine(out, "i OK") || !hasLine(out, "c OK") {
		t.Fatalf("IDLE, FETCH: %q", out)
	}
	if got := recorded(t, fetches, 1); got[0] != "c FETCH 1 (UID)" {
		t.Fatalf("recorded %q", got)
	}
}
