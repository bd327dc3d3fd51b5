package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
	mdtls "github.com/maildird/maildird/tls"
)

const (
	testUser = "alice@example.org"
	testPass = "secret pw"
)

// testAuth knows one password per user and counts failures.
type testAuth struct {
	mu       sync.Mutex
	users    map[string]string
	failures int
	err      error // returned for every login when set
}

func (a *testAuth) Authenticate(_ context.Context, _ netip.Addr, user, pass string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return "", a.err
	}
	if p, ok := a.users[strings.ToLower(user)]; ok && p == pass {
		return strings.ToLower(user), nil
	}
	a.failures++
	return "", auth.ErrBadCredentials
}

// testServer is a Server on 127.0.0.1 over a temporary maildir.Store.
type testServer struct {
	t     testing.TB
	srv   *Server
	store *maildir.Store
	auth  *testAuth
	addr  string
	tls   *tls.Config
	root  string
}

func quietLog() *slog.Logger {
	if os.Getenv("IMAP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestServer(t testing.TB, tweak func(*Options)) *testServer {
	t.Helper()
	cert, err := mdtls.LoadOrCreateSelfSigned(t.TempDir(), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	store, err := maildir.Open(maildir.Options{Root: root, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{
		t: t, store: store, root: root,
		auth: &testAuth{users: map[string]string{testUser: testPass, "bob@example.org": "bob pw"}},
		tls:  &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	opts := Options{Hostname: "mail.example.org", TLS: ts.tls, Store: store, Auth: ts.auth, Logger: quietLog()}
	if tweak != nil {
		tweak(&opts)
	}
	ts.srv = New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go ts.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
	})
	return ts
}

// listenTLS serves implicit TLS (port 993) on another listener.
func (ts *testServer) listenTLS() string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ts.tls)
	if err != nil {
		ts.t.Fatal(err)
	}
	go ts.srv.Serve(ln)
	return ln.Addr().String()
}

// client connects with imapclient from 127.0.0.1 (the same machine).
func (ts *testServer) client() *imapclient.Client {
	return ts.clientWith(nil)
}

func (ts *testServer) clientWith(opts *imapclient.Options) *imapclient.Client {
	ts.t.Helper()
	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		ts.t.Fatal(err)
	}
	c := imapclient.New(conn, opts)
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// login connects and logs in as alice.
func (ts *testServer) login() *imapclient.Client {
	ts.t.Helper()
	c := ts.client()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		ts.t.Fatalf("LOGIN: %v", err)
	}
	return c
}

// selectBox logs in and selects a folder.
func (ts *testServer) selectBox(name string) (*imapclient.Client, *goimap.SelectData) {
	ts.t.Helper()
	c := ts.login()
	data, err := c.Select(name, nil).Wait()
	if err != nil {
		ts.t.Fatalf("SELECT %s: %v", name, err)
	}
	return c, data
}

// deliver puts a message into a folder of alice the way SMTP does.
func (ts *testServer) deliver(folder, msg string) {
	ts.t.Helper()
	if _, err := ts.store.Deliver(testUser, folder, strings.NewReader(msg), 0); err != nil {
		ts.t.Fatal(err)
	}
}

func testMessage(i int) string {
	return fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: alice@example.org\r\nSubject: message %d\r\nDate: Tue, 5 Mar 2024 10:00:00 +0000\r\nMessage-ID: <m%d@example.net>\r\n\r\nBody of message %d.\r\n", i, i, i, i, i)
}

// raw is a line-level client for what imapclient cannot show.
type raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func (ts *testServer) raw() *raw { return ts.rawFrom("127.0.0.1", ts.addr) }

func (ts *testServer) rawFrom(local, addr string) *raw {
	ts.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { conn.Close() })
	r := &raw{t: ts.t, conn: conn, r: bufio.NewReader(conn)}
	if l := r.line(); !strings.HasPrefix(l, "* OK ") {
		ts.t.Fatalf("greeting %q", l)
	}
	return r
}

func (r *raw) line() string {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := r.r.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (r *raw) send(s string) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.conn, s+"\r\n"); err != nil {
		r.t.Fatal(err)
	}
}

// do sends a tagged command and returns every line up to and including
// the tagged reply.
func (r *raw) do(cmd string) []string {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.send(tag + " " + cmd)
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// ok runs a command and fails unless it ends with OK.
func (r *raw) ok(cmd string) []string {
	r.t.Helper()
	out := r.do(cmd)
	if last := out[len(out)-1]; !strings.Contains(last, " OK") {
		r.t.Fatalf("%s: %q", cmd, out)
	}
	return out
}

// closed checks that the server hung up, after any lines it sent.
func (r *raw) closed(within time.Duration) []string {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(within))
	var lines []string
	for {
		l, err := r.r.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatalf("connection still open after %v (lines %q)", within, lines)
			}
			return lines
		}
		lines = append(lines, strings.TrimSuffix(l, "\r\n"))
	}
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
