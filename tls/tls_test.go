package tls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func leafOf(t *testing.T, c *tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestSelfSignedMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreateSelfSigned(dir, "mail.example.org", t0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, &first)
	if err := leaf.VerifyHostname("mail.example.org"); err != nil {
		t.Errorf("certificate does not name the host: %v", err)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
	fi, err := os.Stat(filepath.Join(dir, "selfsigned.key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}

	again, err := LoadOrCreateSelfSigned(dir, "mail.example.org", t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Certificate[0], again.Certificate[0]) {
		t.Error("a second start made a new certificate instead of keeping the first")
	}

	other, err := LoadOrCreateSelfSigned(dir, "other.example.org", t0)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first.Certificate[0], other.Certificate[0]) {
		t.Error("a hostname change kept the certificate for the old name")
	}
	expired, err := LoadOrCreateSelfSigned(dir, "other.example.org", t0.Add(selfSignedLifetime+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Certificate[0], expired.Certificate[0]) {
		t.Error("an expired certificate was kept")
	}
}

func TestSelfSignedCorruptFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "selfsigned.crt"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "selfsigned.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSelfSigned(dir, "localhost", t0); err == nil {
		t.Fatal("corrupt PEM files accepted")
	}
}

func writePair(t *testing.T, dir, host string, now time.Time) (certPath, keyPath string) {
	t.Helper()
	certPEM, keyPEM, err := makeSelfSigned(host, now)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func TestFilesReloadAndKeepOldOnBadFiles(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := writePair(t, dir, "one.example.org", t0)
	now := t0
	src, err := New(Options{Mode: ModeFiles, CertFile: certPath, KeyFile: keyPath,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := src.Config(ConfigOptions{})
	get := func() string {
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return leafOf(t, c).Subject.CommonName
	}
	if got := get(); got != "one.example.org" {
		t.Fatalf("serving %q", got)
	}

	writePair(t, dir, "two.example.org", t0)
	bump := t0.Add(time.Minute)
	os.Chtimes(certPath, bump, bump)
	if got := get(); got != "one.example.org" {
		t.Errorf("reloaded before the check interval: %q", got)
	}
	now = now.Add(reloadCheckInterval)
	if got := get(); got != "two.example.org" {
		t.Errorf("after renewal serving %q, want two.example.org", got)
	}

	if err := os.WriteFile(certPath, []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	now = now.Add(reloadCheckInterval)
	if got := get(); got != "two.example.org" {
		t.Errorf("a broken renewal replaced the certificate: %q", got)
	}
}

func TestNewModes(t *testing.T) {
	src, err := New(Options{Mode: ModeOff})
	if err != nil || src != nil {
		t.Errorf("off: %v, %v; want nil source", src, err)
	}
	if _, err := New(Options{Mode: "bogus"}); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, err := New(Options{Mode: ModeFiles, CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}); err == nil {
		t.Error("missing files accepted")
	}
	src, err = New(Options{Mode: ModeSelfSigned, Hostname: "localhost", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := src.Config(ConfigOptions{})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	if !cfg.SessionTicketsDisabled {
		t.Error("session tickets on by default; SMTP listeners need them off")
	}
	if src.Config(ConfigOptions{SessionTickets: true}).SessionTicketsDisabled {
		t.Error("SessionTickets option ignored")
	}
}

// TestHandshake proves the Config really serves a certificate over a TLS
// connection on the loopback interface.
func TestHandshake(t *testing.T) {
	src, err := New(Options{Mode: ModeSelfSigned, Hostname: "localhost", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", src.Config(ConfigOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("hello"))
		c.Close()
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	if string(got) != "hello" {
		t.Errorf("read %q", got)
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "localhost" {
		t.Errorf("peer certificate CN %q", cn)
	}
}
