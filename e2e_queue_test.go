package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/server/queue"
)

// TestServeSubmissionThroughSmarthost is the outbound path through the
// binary: a message submitted for a remote address is queued, DKIM-signed
// and handed to the smarthost over verified STARTTLS with AUTH. The
// smarthost is a go-smtp server on 127.0.0.1 whose certificate the
// binary trusts through SSL_CERT_FILE.
func TestServeSubmissionThroughSmarthost(t *testing.T) {
	sh := startSmarthost(t)
	t.Setenv("SSL_CERT_FILE", sh.caFile)
	cfg, dataDir := writeConfig(t, "\n[delivery]\nsmarthost = localhost:"+sh.port+
		"\nsmarthost_user = relay\nsmarthost_password = relay secret\n")
	runCLI(t, "alice secret\n", "-config", cfg, "user", "add", "alice@example.org").must(t, exitOK, "", "")
	s, ports := serveOnFreePorts(t, cfg, "submission")
	subPort := ports["submission"]
	s.waitFor(t, "service=submission ")

	msg := "From: Alice <alice@example.org>\r\nTo: bob@far.example\r\nSubject: out\r\n" +
		"Message-ID: <2@example.org>\r\nDate: Wed, 2 Dec 2026 10:00:00 +0000\r\n\r\nHello Bob.\r\n"
	c, err := gosmtp.Dial("127.0.0.1:" + subPort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.org", "alice secret")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("alice@example.org", []string{"bob@far.example"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	got := sh.wait(t)
	if got.from != "alice@example.org" || got.to != "bob@far.example" || got.user != "relay" || !got.tls {
		t.Fatalf("smarthost got %q -> %q as %q tls=%v", got.from, got.to, got.user, got.tls)
	}
	keys, err := queue.LoadDKIM(filepath.Join(dataDir, "dkim"), []string{"example.org"})
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for _, r := range keys.Records("example.org") {
		records[r.Name] = r.Value
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(got.data), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := records[strings.TrimSuffix(name, ".")]; ok {
				return []string{v}, nil
			}
			return nil, errors.New("no such record")
		},
	})
	if err != nil || len(vs) != 2 || vs[0].Err != nil || vs[1].Err != nil {
		t.Fatalf("DKIM: %v %v %v\n%s", err, vs[0].Err, vs[len(vs)-1].Err, got.data)
	}
	if !strings.HasSuffix(string(got.data), msg) {
		t.Fatalf("message changed:\n%s", got.data)
	}
}

type smarthost struct {
	port, caFile string
	mu           sync.Mutex
	got          []shMessage
}

type shMessage struct {
	from, to, user string
	tls            bool
	data           []byte
}

func startSmarthost(t *testing.T) *smarthost {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sh := &smarthost{caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(sh.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &shSession{sh: sh, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, sh.port, _ = net.SplitHostPort(l.Addr().String())
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sh
}

func (sh *smarthost) wait(t *testing.T) shMessage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sh.mu.Lock()
		if len(sh.got) > 0 {
			m := sh.got[0]
			sh.mu.Unlock()
			return m
		}
		sh.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("nothing reached the smarthost in 20s")
	return shMessage{}
}

type shSession struct {
	sh       *smarthost
	c        *gosmtp.Conn
	user     string
	from, to string
}

func (s *shSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *shSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "relay" || pass != "relay secret" {
			return errors.New("bad login")
		}
		s.user = user
		return nil
	}), nil
}

func (s *shSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *shSession) Rcpt(to string, _ *gosmtp.RcptOptions) error { s.to = to; return nil }

func (s *shSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.sh.mu.Lock()
	s.sh.got = append(s.sh.got, shMessage{from: s.from, to: s.to, user: s.user, tls: isTLS, data: data})
	s.sh.mu.Unlock()
	return nil
}

func (s *shSession) Reset()        {}
func (s *shSession) Logout() error { return nil }
