package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maildird/maildird/server/auth"
	mdtls "github.com/maildird/maildird/tls"
)

// fakeStore keeps one INBOX per user in memory.
type fakeStore struct {
	mu       sync.Mutex
	validity uint32
	msgs     map[string][]fakeMsg // user -> messages
	seen     []uint32
	expunged []uint32
	openErr  error
}

type fakeMsg struct {
	uid  uint32
	body string // CRLF
}

func (f *fakeStore) add(user, body string) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	uid := uint32(1)
	if n := len(f.msgs[user]); n > 0 {
		uid = f.msgs[user][n-1].uid + 1
	}
	f.msgs[user] = append(f.msgs[user], fakeMsg{uid, body})
	return uid
}

func (f *fakeStore) OpenInbox(user string) (Mailbox, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	return &fakeMailbox{store: f, user: user}, nil
}

type fakeMailbox struct {
	store *fakeStore
	user  string
}

func (m *fakeMailbox) UIDValidity() uint32 { return m.store.validity }

func (m *fakeMailbox) Messages() []Message {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	var out []Message
	for _, msg := range m.store.msgs[m.user] {
		out = append(out, Message{UID: msg.uid, Size: int64(len(msg.body))})
	}
	return out
}

func (m *fakeMailbox) Open(uid uint32) (io.ReadCloser, error) {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	for _, msg := range m.store.msgs[m.user] {
		if msg.uid == uid {
			return io.NopCloser(strings.NewReader(msg.body)), nil
		}
	}
	return nil, fmt.Errorf("no message %d", uid)
}

func (m *fakeMailbox) MarkSeen(uids []uint32) error {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	m.store.seen = append(m.store.seen, uids...)
	return nil
}

func (m *fakeMailbox) Expunge(uids []uint32) error {
	m.store.mu.Lock()
	defer m.store.mu.Unlock()
	m.store.expunged = append(m.store.expunged, uids...)
	kept := m.store.msgs[m.user][:0]
	for _, msg := range m.store.msgs[m.user] {
		if !slices.Contains(uids, msg.uid) {
			kept = append(kept, msg)
		}
	}
	m.store.msgs[m.user] = kept
	return nil
}

func (m *fakeMailbox) Close() error { return nil }

// fakeAuth knows one password per user.
type fakeAuth struct {
	users map[string]string
	err   error // returned for every login when set
}

func (a *fakeAuth) Authenticate(_ context.Context, _ netip.Addr, user, pass string) (string, error) {
	if a.err != nil {
		return "", a.err
	}
	if p, ok := a.users[strings.ToLower(user)]; ok && p == pass {
		return strings.ToLower(user), nil
	}
	return "", auth.ErrBadCredentials
}

type harness struct {
	t     *testing.T
	srv   *Server
	store *fakeStore
	auth  *fakeAuth
	addr  string
	tls   *tls.Config
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHarness(t *testing.T, tweak func(*Options)) *harness {
	t.Helper()
	cert, err := mdtls.LoadOrCreateSelfSigned(t.TempDir(), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t:     t,
		store: &fakeStore{validity: 0x5f000001, msgs: map[string][]fakeMsg{}},
		auth:  &fakeAuth{users: map[string]string{"alice@example.org": "secret pw"}},
		tls:   &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	opts := Options{Hostname: "mail.example.org", TLS: h.tls, Store: h.store, Auth: h.auth, Logger: quietLogger()}
	if tweak != nil {
		tweak(&opts)
	}
	h.srv = New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go h.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.srv.Shutdown(ctx)
	})
	return h
}

// client is a raw POP3 client that shows every line.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dial connects from 127.0.0.1 (the same machine: plaintext allowed).
func (h *harness) dial() *client { return h.dialFrom("127.0.0.1") }

// dialFrom connects from another loopback address, which DESIGN.md §5
// treats as another machine.
func (h *harness) dialFrom(local string) *client {
	h.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { conn.Close() })
	c := &client{t: h.t, conn: conn, r: bufio.NewReader(conn)}
	c.expect("+OK maildird ready.")
	return c
}

func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *client) send(line string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads one line and checks its prefix.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	l := c.line()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("got %q, want %q...", l, prefix)
	}
	return l
}

// cmd sends a command and checks the first reply line's prefix.
func (c *client) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line)
	return c.expect(prefix)
}

// multiline reads a dot-terminated body, undoing the dot-stuffing.
func (c *client) multiline() []string {
	c.t.Helper()
	var out []string
	for range 100000 {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
	c.t.Fatal("no end of multi-line reply")
	return nil
}

// closed checks that the server hung up.
func (c *client) closed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := c.r.ReadString('\n'); err == nil {
		c.t.Fatalf("connection still open, got %q", l)
	}
}

func (c *client) login() {
	c.t.Helper()
	c.cmd("USER alice@example.org", "+OK")
	c.cmd("PASS secret pw", "+OK logged in")
}
