package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/server/auth"
	mdtls "github.com/maildird/maildird/tls"
)

// Compile-time checks: server/auth's types fit the interfaces.
var (
	_ Directory     = (*auth.Store)(nil)
	_ Authenticator = (*auth.Authenticator)(nil)
)

// fakeStore is a Mailstore that keeps committed messages in memory and
// can fail on purpose.
type fakeStore struct {
	mu        sync.Mutex
	boxes     map[string][][]byte // "user|folder" -> messages
	aborts    int
	commits   int
	maxSizes  []int64
	failNew   error
	failAfter int64 // Write fails once this many bytes were written (>0)
	failAdd   error
	failCmt   error
}

func newFakeStore() *fakeStore { return &fakeStore{boxes: map[string][][]byte{}} }

func (s *fakeStore) NewDelivery(maxSize int64) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNew != nil {
		return nil, s.failNew
	}
	s.maxSizes = append(s.maxSizes, maxSize)
	return &fakeDelivery{s: s, max: maxSize, failAfter: s.failAfter}, nil
}

// messages returns the messages delivered to user's INBOX.
func (s *fakeStore) messages(user string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.boxes[user+"|"]...)
}

func (s *fakeStore) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.boxes {
		n += len(m)
	}
	return n
}

func (s *fakeStore) counts() (commits, aborts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits, s.aborts
}

type fakeDelivery struct {
	s         *fakeStore
	max       int64
	failAfter int64
	buf       bytes.Buffer
	rcpts     []string
	done      bool
}

var errFakeDisk = errors.New("fake disk failure")

func (d *fakeDelivery) Write(p []byte) (int, error) {
	if d.done {
		return 0, errors.New("fake: write after commit or abort")
	}
	if d.failAfter > 0 && int64(d.buf.Len()+len(p)) > d.failAfter {
		return 0, errFakeDisk
	}
	if d.max > 0 && int64(d.buf.Len()+len(p)) > d.max {
		return 0, errors.New("fake: too big")
	}
	return d.buf.Write(p)
}

func (d *fakeDelivery) AddRecipient(addr, folder string) error {
	if d.s.failAdd != nil {
		return d.s.failAdd
	}
	d.rcpts = append(d.rcpts, addr+"|"+folder)
	return nil
}

func (d *fakeDelivery) Commit() error {
	if d.done {
		return errors.New("fake: commit twice")
	}
	d.done = true
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if d.s.failCmt != nil {
		return d.s.failCmt
	}
	d.s.commits++
	for _, r := range d.rcpts {
		d.s.boxes[r] = append(d.s.boxes[r], bytes.Clone(d.buf.Bytes()))
	}
	return nil
}

func (d *fakeDelivery) Abort() error {
	d.done = true
	d.s.mu.Lock()
	d.s.aborts++
	d.s.mu.Unlock()
	return nil
}

// fakeDir is a Directory: users, aliases, +tag handling like auth.Store.
type fakeDir struct {
	users   map[string]bool
	aliases map[string][]string
	fail    error
}

func (d *fakeDir) Lookup(addr string) ([]string, error) {
	if d.fail != nil {
		return nil, d.fail
	}
	addr = strings.ToLower(addr)
	if !strings.Contains(addr, "@") {
		return nil, fmt.Errorf("fake: %w", auth.ErrBadAddress)
	}
	for _, a := range []string{addr, stripTagForTest(addr)} {
		if d.users[a] {
			return []string{a}, nil
		}
		if t, ok := d.aliases[a]; ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("fake: %s: %w", addr, auth.ErrNoSuchUser)
}

func stripTagForTest(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	if i := strings.IndexByte(local, '+'); i > 0 {
		return local[:i] + "@" + domain
	}
	return addr
}

// fakeAuth accepts the passwords in pw and records attempts.
type fakeAuth struct {
	mu       sync.Mutex
	pw       map[string]string
	attempts []string
	fail     error
}

func (a *fakeAuth) Authenticate(_ context.Context, remote netip.Addr, user, pass string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts = append(a.attempts, user+"@"+remote.String())
	if a.fail != nil {
		return "", a.fail
	}
	u := strings.ToLower(user)
	if p, ok := a.pw[u]; ok && p == pass {
		return u, nil
	}
	return "", fmt.Errorf("fake: %w", auth.ErrBadCredentials)
}

// fakeQueue is an Enqueuer keeping committed messages.
type fakeQueue struct {
	mu   sync.Mutex
	msgs []queued
}

type queued struct {
	from  string
	rcpts []string
	data  []byte
}

func (q *fakeQueue) NewMessage(from string, _ int64) (Outgoing, error) {
	return &fakeOutgoing{q: q, m: queued{from: from}}, nil
}

type fakeOutgoing struct {
	q   *fakeQueue
	m   queued
	buf bytes.Buffer
}

func (o *fakeOutgoing) Write(p []byte) (int, error) { return o.buf.Write(p) }
func (o *fakeOutgoing) AddRecipient(addr string) error {
	o.m.rcpts = append(o.m.rcpts, addr)
	return nil
}
func (o *fakeOutgoing) Abort() error { return nil }
func (o *fakeOutgoing) Commit() error {
	o.m.data = bytes.Clone(o.buf.Bytes())
	o.q.mu.Lock()
	o.q.msgs = append(o.q.msgs, o.m)
	o.q.mu.Unlock()
	return nil
}

const (
	alice    = "alice@example.org"
	bob      = "bob@example.org"
	alicePW  = "alice secret"
	testHost = "mx.example.org"
)

// harness is one running Server on 127.0.0.1 with fakes behind it.
type harness struct {
	t         *testing.T
	srv       *Server
	addr      string
	store     *fakeStore
	dir       *fakeDir
	auth      *fakeAuth
	queue     *fakeQueue
	clientTLS *tls.Config // trusts the server's self-signed certificate
	done      chan error
	logBuf    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var (
	certOnce sync.Once
	certDir  string
	certErr  error
)

// testTLS returns a server config from the project's TLS source (selfsigned)
// and a client config that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	certOnce.Do(func() {
		certDir, certErr = os.MkdirTemp("", "smtp-test-cert")
	})
	if certErr != nil {
		t.Fatal(certErr)
	}
	src, err := mdtls.New(mdtls.Options{Mode: mdtls.ModeSelfSigned, Hostname: "localhost", DataDir: certDir})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := mdtls.LoadOrCreateSelfSigned(certDir+"/tls", "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return src.Config(mdtls.ConfigOptions{SessionTickets: false}), &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func baseOptions(t testing.TB, mode Mode) (Options, *fakeStore, *fakeDir, *fakeAuth) {
	serverTLS, _ := testTLS(t)
	store := newFakeStore()
	dir := &fakeDir{
		users:   map[string]bool{alice: true, bob: true},
		aliases: map[string][]string{"family@example.org": {alice, bob}, "fwd@example.org": {"someone@elsewhere.net"}},
	}
	fa := &fakeAuth{pw: map[string]string{alice: alicePW, bob: "bob pw"}}
	opts := Options{
		Hostname: testHost, Mode: mode, TLS: serverTLS,
		Store: store, Directory: dir, Auth: fa,
		IsLocalDomain: func(d string) bool { return d == "example.org" },
		Now:           func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
	return opts, store, dir, fa
}

func newHarness(t *testing.T, mode Mode, tweak func(*Options)) *harness {
	t.Helper()
	opts, store, dir, fa := baseOptions(t, mode)
	_, clientTLS := testTLS(t)
	logBuf := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if tweak != nil {
		tweak(&opts)
	}
	q, _ := opts.Queue.(*fakeQueue)
	srv := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, addr: ln.Addr().String(), store: store, dir: dir, auth: fa,
		queue: q, clientTLS: clientTLS, done: make(chan error, 1), logBuf: logBuf}
	go func() { h.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logBuf.String())
		}
	})
	return h
}

// dialRaw connects from local ("" = 127.0.0.1).
func (h *harness) dialRaw(local string) net.Conn {
	h.t.Helper()
	if local == "" {
		local = "127.0.0.1"
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	h.t.Cleanup(func() { c.Close() })
	return c
}

// client returns a go-smtp client that has read the greeting.
func (h *harness) client(local string) *gosmtp.Client {
	h.t.Helper()
	c := gosmtp.NewClient(h.dialRaw(local))
	h.t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.net"); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// tlsClient returns a go-smtp client on implicit TLS (port 465).
func (h *harness) tlsClient(local string) *gosmtp.Client {
	h.t.Helper()
	c := gosmtp.NewClient(tls.Client(h.dialRaw(local), h.clientTLS))
	h.t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.net"); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// send runs MAIL, RCPTs and DATA and returns DATA's error.
func send(c *gosmtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// code returns the SMTP reply code inside err, or 0.
func code(err error) int {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// wantReply checks the code and the enhanced code ("5.1.1").
func wantReply(t *testing.T, err error, want int, enh string) {
	t.Helper()
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("want %d %s, got %v", want, enh, err)
	}
	got := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != want || got != enh {
		t.Fatalf("reply %d %s %q, want %d %s", se.Code, got, se.Message, want, enh)
	}
}

func wantCode(t *testing.T, err error, want int) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("reply %d (%v), want %d", got, err, want)
	}
}

// rawConn is a line-oriented client for exact dialogues.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (h *harness) raw(local string) *rawConn {
	h.t.Helper()
	r := &rawConn{t: h.t, c: h.dialRaw(local)}
	r.br = bufio.NewReader(r.c)
	return r
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// line reads one reply line without CRLF; "" and io.EOF at the end.
func (r *rawConn) line() (string, error) {
	l, err := r.br.ReadString('\n')
	if err != nil {
		return l, err
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// expect reads one line and checks its prefix.
func (r *rawConn) expect(prefix string) string {
	r.t.Helper()
	l, err := r.line()
	if err != nil {
		r.t.Fatalf("want %q, got %q, %v", prefix, l, err)
	}
	if !strings.HasPrefix(l, prefix) {
		r.t.Fatalf("want %q, got %q", prefix, l)
	}
	return l
}

// reply reads a whole (multi-line) reply and returns its lines.
func (r *rawConn) reply() []string {
	r.t.Helper()
	var out []string
	for i := 0; i < 100; i++ {
		l, err := r.line()
		if err != nil {
			r.t.Fatalf("reading reply after %q: %v", out, err)
		}
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return out
		}
	}
	r.t.Fatal("reply longer than 100 lines")
	return nil
}

// expectClosed checks that the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	l, err := r.line()
	if err == nil || l != "" {
		r.t.Fatalf("want the connection closed, got %q, %v", l, err)
	}
}

// startTLSClient returns a go-smtp client that has done EHLO, STARTTLS
// and EHLO again.
func (h *harness) startTLSClient(local string) *gosmtp.Client {
	h.t.Helper()
	c, err := gosmtp.NewClientStartTLS(h.dialRaw(local), h.clientTLS)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.net"); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
