package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/dnsresolv"
	"github.com/maildird/maildird/maildir"
)

// The fake network: every test domain's MX resolves to a made-up
// loopback address (127.0.0.N), and the dial function maps those, port
// 25, to real listeners on 127.0.0.1. Anything else is refused: a test
// never dials outside this process's listeners.
type fakeNet struct {
	mu     sync.Mutex
	routes map[string]string // "127.0.0.N:25" -> "127.0.0.1:port"
	dials  []string
	dns    *dnsresolv.Mock
	next   int
}

func newFakeNet() *fakeNet {
	return &fakeNet{
		routes: map[string]string{}, next: 10,
		dns: &dnsresolv.Mock{MX: map[string][]dnsresolv.MX{}, IP: map[string][]netip.Addr{}, Fail: map[string]error{}},
	}
}

// host gives an MX host name a fake address routed to real (a listener
// address; "" for a host nobody listens on).
func (n *fakeNet) host(name, real string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := netip.AddrFrom4([4]byte{127, 0, 0, byte(n.next)})
	n.next++
	n.dns.IP[name] = []netip.Addr{ip}
	if real != "" {
		n.routes[ip.String()+":25"] = real
	}
}

// mx publishes domain's MX records.
func (n *fakeNet) mx(domain string, hosts ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, h := range hosts {
		n.dns.MX[domain] = append(n.dns.MX[domain], dnsresolv.MX{Host: h, Pref: uint16(10 * (i + 1))})
	}
}

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	real, ok := n.routes[addr]
	n.dials = append(n.dials, addr)
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fake network: connection refused to %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

// remote is a go-smtp server on 127.0.0.1 playing another mail server.
type remote struct {
	t        *testing.T
	srv      *gosmtp.Server
	addr     string
	mu       sync.Mutex
	sessions int
	got      []received
	// rcpt decides RCPT replies (nil: accept); data decides the reply
	// after the message (nil: accept). n counts sessions, from 1.
	rcpt     func(n int, to string) error
	data     func(n int, msg []byte) error
	dropData func(n int) bool          // drop the connection in the middle of DATA
	delay    func(n int) time.Duration // before the reply to MAIL
	users    map[string]string         // AUTH PLAIN/LOGIN accounts; nil: no AUTH
	mechs    []string                  // offered mechanisms (default PLAIN and LOGIN)
	authed   []string
}

type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	user  string
	helo  string
}

type remoteOptions struct {
	tls      *tls.Config // STARTTLS offered (or implicit with implicit)
	implicit bool
	maxSize  int64
}

func newRemote(t *testing.T, o remoteOptions) *remote {
	t.Helper()
	r := &remote{t: t}
	s := gosmtp.NewServer(r)
	s.Domain = "remote.test"
	s.AllowInsecureAuth = false
	s.TLSConfig = o.tls
	s.MaxMessageBytes = o.maxSize
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.implicit {
		l = tls.NewListener(l, o.tls)
	}
	r.srv, r.addr = s, l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return r
}

func (r *remote) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	r.mu.Lock()
	r.sessions++
	n := r.sessions
	r.mu.Unlock()
	return &remoteSession{r: r, c: c, n: n}, nil
}

func (r *remote) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *remote) sessionCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}

type remoteSession struct {
	r     *remote
	c     *gosmtp.Conn
	n     int
	from  string
	rcpts []string
	user  string
}

func (s *remoteSession) AuthMechanisms() []string {
	if s.r.users == nil {
		return nil
	}
	if s.r.mechs != nil {
		return s.r.mechs
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *remoteSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.r.users[user]; !ok || want != pass {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.user = user
		s.r.mu.Lock()
		s.r.authed = append(s.r.authed, mech+":"+user)
		s.r.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return newLoginServer(check), nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

func (s *remoteSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.r.users != nil && s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	if s.r.delay != nil {
		time.Sleep(s.r.delay(s.n))
	}
	s.from = from
	return nil
}

func (s *remoteSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.r.rcpt != nil {
		if err := s.r.rcpt(s.n, to); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *remoteSession) Data(rd io.Reader) error {
	if s.r.dropData != nil && s.r.dropData(s.n) {
		io.CopyN(io.Discard, rd, 10)
		s.c.Conn().Close()
		return errors.New("dropped")
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	if s.r.data != nil {
		if err := s.r.data(s.n, data); err != nil {
			return err
		}
	}
	_, isTLS := s.c.TLSConnectionState()
	s.r.mu.Lock()
	s.r.got = append(s.r.got, received{from: s.from, rcpts: s.rcpts, data: data, tls: isTLS, user: s.user, helo: s.c.Hostname()})
	s.r.mu.Unlock()
	return nil
}

func (s *remoteSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *remoteSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login).
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func newLoginServer(check func(user, pass string) error) *loginServer {
	return &loginServer{check: check}
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func smtpErr(code int, enh gosmtp.EnhancedCode, msg string) error {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// fixture is a queue over a temp dir with the fake network.
type fixture struct {
	t     *testing.T
	net   *fakeNet
	q     *Queue
	opts  Options
	store *maildir.Store
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture builds (but does not start) a queue for local domain
// home.test; change f.opts before f.start.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := maildir.Open(maildir.Options{Root: filepath.Join(dir, "mail")})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, net: newFakeNet(), store: store, logs: &syncBuffer{}}
	f.opts = Options{
		Dir: filepath.Join(dir, "queue"), Hostname: "mail.home.test",
		IsLocalDomain: func(d string) bool { return d == "home.test" },
		Local:         store,
		Resolver:      f.net.dns, Dial: f.net.dial,
		Retry:          func(int) time.Duration { return 100 * time.Millisecond },
		CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second,
		Rescan: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(f.logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return f
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (f *fixture) start() *Queue {
	f.t.Helper()
	q, err := New(f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := q.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.q = q
	f.t.Cleanup(q.Stop)
	return q
}

// send queues a message the way the SMTP server does.
func (f *fixture) send(from string, rcpts []string, msg string, opts MessageOptions) string {
	f.t.Helper()
	m, err := f.q.NewMessage(from, 1<<20, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := io.WriteString(m, crlf(msg)); err != nil {
		f.t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := m.AddRecipient(r); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := m.Commit(); err != nil {
		f.t.Fatal(err)
	}
	return m.ID()
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// waitEmpty waits until the spool holds no message.
func (f *fixture) waitEmpty() {
	f.t.Helper()
	f.waitFor("an empty queue", func() bool {
		ids, err := f.q.spool.IDs()
		return err == nil && len(ids) == 0
	})
}

func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("no %s after 20s; log (tail):\n%s", what, tail(f.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inbox returns the messages in a local user's new/.
func (f *fixture) inbox(addr string) [][]byte {
	f.t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	dir := filepath.Join(f.store.Root(), domain, local, "new")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// selfSigned makes a certificate for names, and a pool that trusts it.
func selfSigned(t *testing.T, names ...string) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}

const plainMsg = `From: Alice <alice@home.test>
To: Bob <bob@far.test>
Subject: hello
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <1@home.test>

Hello Bob.
`

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func bufioReaderFrom(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
