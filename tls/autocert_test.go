package tls

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// closedURL is an ACME directory nobody answers: a test that reaches the
// CA fails instead of hanging.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/directory"
}

// cacheCert puts a certificate for name into an autocert cache directory
// in autocert's own format (key PEM, then the chain), as if the CA had
// issued it earlier.
func cacheCert(t *testing.T, dir, name string) []byte {
	t.Helper()
	certPEM, keyPEM, err := makeSelfSigned(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(keyPEM, certPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair.Certificate[0]
}

func newAutocert(t *testing.T, dataDir string) *Source {
	t.Helper()
	src, err := New(Options{Mode: ModeAutocert, Hostname: "mail.example.org", Domains: []string{"example.org", "example.net"},
		DataDir: dataDir, ACMEDirectory: closedURL(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// serveTLS accepts TLS connections with cfg on 127.0.0.1 until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// peerCert shakes hands with addr, sending serverName as SNI ("" sends
// none, as most SMTP senders do), and returns the server's leaf.
func peerCert(t *testing.T, addr, serverName string) []byte {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", serverName, err)
	}
	defer c.Close()
	if sent := c.ConnectionState().ServerName; sent != serverName {
		t.Fatalf("client sent SNI %q, want %q", sent, serverName)
	}
	return c.ConnectionState().PeerCertificates[0].Raw
}

func TestAutocertNoSNIGetsHostnameCertificate(t *testing.T) {
	dataDir := t.TempDir()
	cache := filepath.Join(dataDir, "acme")
	host := cacheCert(t, cache, "mail.example.org")
	autoconfig := cacheCert(t, cache, "autoconfig.example.net")
	src := newAutocert(t, dataDir)
	addr := serveTLS(t, src.Config(ConfigOptions{}))

	if got := peerCert(t, addr, ""); !bytes.Equal(got, host) {
		t.Error("a handshake without SNI did not get the hostname's certificate")
	}
	if got := peerCert(t, addr, "mail.example.org"); !bytes.Equal(got, host) {
		t.Error("SNI mail.example.org did not get the hostname's certificate")
	}
	if got := peerCert(t, addr, "autoconfig.example.net"); !bytes.Equal(got, autoconfig) {
		t.Error("SNI autoconfig.example.net did not get its own certificate")
	}
	// A name outside the policy (a CNAME nobody told us about) gets the
	// hostname's certificate rather than a failed handshake or an order.
	if got := peerCert(t, addr, "other.example.com"); !bytes.Equal(got, host) {
		t.Error("a name outside the policy did not get the hostname's certificate")
	}
}

// TestAutocertCacheReusedWithoutCA starts twice on the same data dir with
// a CA that does not answer: the cached certificate is served both times.
func TestAutocertCacheReusedWithoutCA(t *testing.T) {
	dataDir := t.TempDir()
	want := cacheCert(t, filepath.Join(dataDir, "acme"), "mail.example.org")
	for range 2 {
		src := newAutocert(t, dataDir)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := src.Prefetch(ctx)
		cancel()
		if err != nil {
			t.Fatalf("prefetch with a cached certificate: %v", err)
		}
		if got := peerCert(t, serveTLS(t, src.Config(ConfigOptions{})), ""); !bytes.Equal(got, want) {
			t.Error("the cached certificate was not served")
		}
	}
}

// TestAutocertWithoutCacheAsksTheCA shows the tests above really depend
// on the cache: with none, the handshake fails because the CA is down.
func TestAutocertWithoutCacheAsksTheCA(t *testing.T) {
	src := newAutocert(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := src.Prefetch(ctx); err == nil {
		t.Fatal("prefetch succeeded with no cache and no CA")
	}
}

func TestAutocertHostPolicy(t *testing.T) {
	src := newAutocert(t, t.TempDir())
	for host, ok := range map[string]bool{
		"mail.example.org": true, "MAIL.example.org.": true, "mail.example.org:80": true,
		"autoconfig.example.org": true, "autodiscover.example.net:5002": true,
		"example.org": false, "autoconfig.example.com": false, "www.example.org": false, "127.0.0.1": false,
	} {
		if err := src.acme.policy(context.Background(), host); (err == nil) != ok {
			t.Errorf("policy(%q) = %v, want allowed=%v", host, err, ok)
		}
	}
}

func TestAutocertNeedsADNSHostname(t *testing.T) {
	for _, h := range []string{"localhost", "192.0.2.1"} {
		if _, err := New(Options{Mode: ModeAutocert, Hostname: h, DataDir: t.TempDir()}); err == nil {
			t.Errorf("hostname %q accepted for autocert", h)
		}
	}
}

func TestAutocertALPNOnlyWhereAsked(t *testing.T) {
	src := newAutocert(t, t.TempDir())
	if got := src.Config(ConfigOptions{}).NextProtos; len(got) != 0 {
		t.Errorf("mail listener NextProtos %q, want none", got)
	}
	got := src.Config(ConfigOptions{NextProtos: []string{"http/1.1"}, ACMEChallenges: true}).NextProtos
	if !slices.Equal(got, []string{"http/1.1", acme.ALPNProto}) {
		t.Errorf("https NextProtos %q", got)
	}
	self, err := New(Options{Mode: ModeSelfSigned, Hostname: "localhost", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := self.Config(ConfigOptions{NextProtos: []string{"http/1.1"}, ACMEChallenges: true}).NextProtos; !slices.Equal(got, []string{"http/1.1"}) {
		t.Errorf("selfsigned https NextProtos %q", got)
	}
}

func TestHTTPChallenges(t *testing.T) {
	self, err := New(Options{Mode: ModeSelfSigned, Hostname: "localhost", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if self.HTTPChallenges() != nil {
		t.Error("selfsigned mode has an http-01 handler")
	}
	var off *Source
	if off.HTTPChallenges() != nil || off.Prefetch(context.Background()) != nil {
		t.Error("a nil Source (TLS off) has ACME behaviour")
	}

	h := newAutocert(t, t.TempDir()).HTTPChallenges()
	for _, c := range []struct {
		host string
		want int
	}{
		{"mail.example.org", http.StatusNotFound},      // no such token
		{"mail.example.org:8080", http.StatusNotFound}, // a port in Host is fine
		{"evil.example.com", http.StatusForbidden},     // outside the policy
	} {
		req := httptest.NewRequest("GET", "http://"+c.host+"/.well-known/acme-challenge/abc", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("Host %s: status %d, want %d", c.host, rec.Code, c.want)
		}
	}
}

// TestFilesReplacedSeenAtNextHandshake replaces the PEM files under a
// running listener, as a certbot renewal does: the next handshake after
// the check interval serves the new certificate, and a handshake without
// SNI gets it too.
func TestFilesReplacedSeenAtNextHandshake(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := writePair(t, dir, "mail.example.org", t0)
	var clock atomic.Int64 // handshakes run on the listener's goroutines
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	src, err := New(Options{Mode: ModeFiles, CertFile: certPath, KeyFile: keyPath, Logger: quiet, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, src.Config(ConfigOptions{}))
	first := peerCert(t, addr, "")

	// Renew: new files with a new key, written the way certbot does
	// (the key first, then the chain).
	certPEM, keyPEM, err := makeSelfSigned("mail.example.org", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileSync(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileSync(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(reloadCheckInterval))

	if got := peerCert(t, addr, ""); bytes.Equal(got, first) || !bytes.Equal(got, pair.Certificate[0]) {
		t.Error("the handshake after the renewal did not serve the new certificate")
	}
	if got := peerCert(t, addr, "mail.example.org"); !bytes.Equal(got, pair.Certificate[0]) {
		t.Error("SNI handshake after the renewal did not serve the new certificate")
	}
}

func TestSelfSignedNoSNIGetsHostnameCertificate(t *testing.T) {
	src, err := New(Options{Mode: ModeSelfSigned, Hostname: "mail.example.org", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", serveTLS(t, src.Config(ConfigOptions{})),
		&tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.ConnectionState().PeerCertificates[0].VerifyHostname("mail.example.org"); err != nil {
		t.Error(err)
	}
}
