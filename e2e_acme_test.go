package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pebbleVersion is the Let's Encrypt test CA the autocert test runs
// against; `go list -m -versions github.com/letsencrypt/pebble/v2` lists
// newer ones.
const pebbleVersion = "v2.10.3"

// TestServeAutocertWithPebble is mode autocert against a real ACME server
// on 127.0.0.1: Pebble, with its challenge test server answering every DNS
// question with 127.0.0.1. maildird gets its certificate over http-01 on
// its http port (tls-alpn-01 is tried first and fails: there is no https
// listener), then the POP3S, IMAPS and SMTP STARTTLS handshakes verify
// against Pebble's root, with and without SNI. A second start, with Pebble stopped, serves the same
// certificate from <data_dir>/acme.
func TestServeAutocertWithPebble(t *testing.T) {
	httpPort, pop3sPort, imapsPort, smtpPort, submissionPort := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	ca := startPebble(t, httpPort, freePort(t)) // nothing listens on its tls-alpn-01 port
	cfg, dataDir := autocertConfig(t, ca, map[string]string{
		"smtp": smtpPort, "submission": submissionPort, "imaps": imapsPort, "pop3s": pop3sPort, "http": httpPort,
	})

	s := startServer(t, t.TempDir(), "-config", cfg)
	if l := logLine(t, s, "service=imaps "); strings.Contains(l, "status=") {
		t.Fatalf("imaps not served: %s", l)
	}
	if l := logLine(t, s, "tls: "); !strings.Contains(l, "ACME certificate ready") {
		t.Fatalf("no certificate from Pebble: %s\nlog:\n%s", l, s.log)
	}
	roots := ca.roots(t)

	leaf := handshakeVerified(t, "pop3s", "127.0.0.1:"+pop3sPort, roots, true, nil)
	handshakeVerified(t, "pop3s without SNI", "127.0.0.1:"+pop3sPort, roots, false, nil)
	handshakeVerified(t, "imaps", "127.0.0.1:"+imapsPort, roots, true, nil)
	handshakeVerified(t, "imaps without SNI", "127.0.0.1:"+imapsPort, roots, false, nil)
	handshakeVerified(t, "submission STARTTLS", "127.0.0.1:"+submissionPort, roots, true, smtpSTARTTLS)
	handshakeVerified(t, "smtp STARTTLS without SNI", "127.0.0.1:"+smtpPort, roots, false, smtpSTARTTLS)
	if _, err := os.Stat(filepath.Join(dataDir, "acme", "mail.example.org")); err != nil {
		t.Errorf("certificate not cached in data_dir/acme: %v", err)
	}
	s.stop(t, syscall.SIGTERM)

	// Second start: Pebble is gone, the cache is all there is.
	ca.stop()
	s = startServer(t, t.TempDir(), "-config", cfg)
	logLine(t, s, "service=pop3s ")
	if l := logLine(t, s, "tls: "); !strings.Contains(l, "ACME certificate ready") {
		t.Fatalf("second start: %s\nlog:\n%s", l, s.log)
	}
	again := handshakeVerified(t, "pop3s after restart", "127.0.0.1:"+pop3sPort, roots, true, nil)
	if !bytes.Equal(again, leaf) {
		t.Error("the second start serves another certificate than the cached one")
	}
	s.stop(t, syscall.SIGTERM)
}

// TestServeAutocertTLSALPN has no http listener, only https: Pebble can
// validate over tls-alpn-01 on it alone. The autoconfig name gets its own
// certificate on its first https request, and the document fetched over
// https, verified against Pebble's root, names the POP3S port.
func TestServeAutocertTLSALPN(t *testing.T) {
	httpsPort, pop3sPort := freePort(t), freePort(t)
	ca := startPebble(t, freePort(t), httpsPort) // nothing listens on its http-01 port
	cfg, _ := autocertConfig(t, ca, map[string]string{"https": httpsPort, "pop3s": pop3sPort})
	s := startServer(t, t.TempDir(), "-config", cfg)
	if l := logLine(t, s, "tls: "); !strings.Contains(l, "ACME certificate ready") {
		t.Fatalf("no certificate from Pebble: %s\nlog:\n%s", l, s.log)
	}
	roots := ca.roots(t)
	handshakeVerified(t, "pop3s", "127.0.0.1:"+pop3sPort, roots, true, nil)

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+httpsPort)
		},
	}}
	resp, err := client.Get("https://autoconfig.example.org:" + httpsPort + "/mail/config-v1.1.xml?emailaddress=alice@example.org")
	if err != nil {
		t.Fatalf("autoconfig over https with a certificate for autoconfig.example.org: %v\nlog:\n%s", err, s.log)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<port>"+pop3sPort+"</port>") {
		t.Errorf("autoconfig: %d\n%s", resp.StatusCode, body)
	}
	if names := resp.TLS.PeerCertificates[0].DNSNames; len(names) != 1 || names[0] != "autoconfig.example.org" {
		t.Errorf("https certificate for %q", names)
	}
	s.stop(t, syscall.SIGTERM)
}

// pebbleCA is a running Pebble and its challenge test server.
type pebbleCA struct {
	directory string // the ACME directory URL
	api       *http.Client
	mgmt      string // https://127.0.0.1:port of the management API
	certFile  string // the API's certificate, for SSL_CERT_FILE
	stop      func()
}

// startPebble runs Pebble on 127.0.0.1, validating http-01 on httpPort and
// tls-alpn-01 on tlsPort, with every name resolving to 127.0.0.1.
func startPebble(t *testing.T, httpPort, tlsPort string) *pebbleCA {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no ACME server")
	}
	pebble, challtestsrv := pebbleBinaries(t)
	dir := t.TempDir()
	caPEM := writeServingCert(t, dir)
	dnsPort := freeTCPAndUDPPort(t)
	acmePort, mgmtPort, challMgmtPort := freePort(t), freePort(t), freePort(t)

	startDaemon(t, "challtestsrv", nil, challtestsrv,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dnsserver", "127.0.0.1:"+dnsPort, "-management", "127.0.0.1:"+challMgmtPort,
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + acmePort,
		"managementListenAddress":        "127.0.0.1:" + mgmtPort,
		"certificate":                    filepath.Join(dir, "pebble-cert.pem"),
		"privateKey":                     filepath.Join(dir, "pebble-key.pem"),
		"httpPort":                       atoi(t, httpPort),
		"tlsPort":                        atoi(t, tlsPort),
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{"default": map[string]any{
			"description": "default", "validityPeriod": 7776000,
		}},
	}})
	confPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	stop := startDaemon(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		pebble, "-config", confPath, "-dnsserver", "127.0.0.1:"+dnsPort)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ca := &pebbleCA{
		directory: "https://127.0.0.1:" + acmePort + "/dir",
		api:       &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		mgmt:      "https://127.0.0.1:" + mgmtPort,
		certFile:  filepath.Join(dir, "pebble-cert.pem"),
		stop:      stop,
	}
	waitHTTP(t, ca.api, ca.directory)
	return ca
}

// roots returns Pebble's root, made at its start and offered on its
// management port.
func (ca *pebbleCA) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := ca.api.Get(ca.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rootPEM, _ := io.ReadAll(resp.Body)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("Pebble's root: %q", rootPEM)
	}
	return roots
}

// autocertConfig writes a config in mode autocert against ca with the
// given listeners (name -> port on 127.0.0.1) on. maildird trusts the
// ACME API through SSL_CERT_FILE, as it trusts Let's Encrypt's through the
// system roots.
func autocertConfig(t *testing.T, ca *pebbleCA, ports map[string]string) (cfg, dataDir string) {
	t.Helper()
	t.Setenv("SSL_CERT_FILE", ca.certFile)
	cfg, dataDir = writeConfig(t, "")
	text, _ := os.ReadFile(cfg)
	conf := strings.Replace(string(text), "mode = selfsigned\n",
		"mode = autocert\nacme_email = admin@example.org\nacme_directory = "+ca.directory+"\n", 1)
	for name, port := range ports {
		if name == "https" {
			conf = strings.Replace(conf, "[listen]\n", "[listen]\nhttps = 127.0.0.1:"+port+"\n", 1)
			continue
		}
		conf = strings.Replace(conf, "\n"+name+" =\n", "\n"+name+" = 127.0.0.1:"+port+"\n", 1)
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, dataDir
}

// logLine returns the first log line containing want, whether it was
// already read or is still to come.
func logLine(t *testing.T, s *serveProc, want string) string {
	t.Helper()
	for _, l := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(l, want) {
			return l
		}
	}
	return s.waitFor(t, want)
}

// pebbleBinaries finds pebble and pebble-challtestsrv on PATH, or installs
// them with `go install` (the Go module proxy is the only network used).
// Without them the test is skipped, except in CI, where it fails.
func pebbleBinaries(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	p, err1 := exec.LookPath("pebble")
	c, err2 := exec.LookPath("pebble-challtestsrv")
	if err1 == nil && err2 == nil {
		return p, c
	}
	gobin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install",
		"github.com/letsencrypt/pebble/v2/cmd/pebble@"+pebbleVersion,
		"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@"+pebbleVersion)
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot install Pebble %s: %v\n%s", pebbleVersion, err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return filepath.Join(gobin, "pebble"), filepath.Join(gobin, "pebble-challtestsrv")
}

// startDaemon runs a helper server until the test ends (or stop is
// called), keeping its output for the failure message.
func startDaemon(t *testing.T, name string, env []string, bin string, args ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return stop
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

func waitHTTP(t *testing.T, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up after 20 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeServingCert makes the certificate Pebble serves its API with
// (127.0.0.1, its own root) and returns it as PEM.
func writeServingCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble test API"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "pebble-cert.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "pebble-key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

// freeTCPAndUDPPort returns a port free for both, for a DNS server.
func freeTCPAndUDPPort(t *testing.T) string {
	t.Helper()
	for range 20 {
		p := freePort(t)
		if c, err := net.ListenPacket("udp", "127.0.0.1:"+p); err == nil {
			c.Close()
			return p
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return ""
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// smtpSTARTTLS says hello and upgrades c with cfg.
func smtpSTARTTLS(c net.Conn, cfg *tls.Config) (*tls.ConnectionState, error) {
	sc, err := smtp.NewClient(c, "mail.example.org")
	if err != nil {
		return nil, err
	}
	if err := sc.Hello("client.example.net"); err != nil {
		return nil, err
	}
	if err := sc.StartTLS(cfg); err != nil {
		return nil, err
	}
	state, ok := sc.TLSConnectionState()
	if !ok {
		return nil, fmt.Errorf("no TLS after STARTTLS")
	}
	sc.Quit()
	return &state, nil
}

// handshakeVerified connects to addr (upgrading with starttls, when
// given, else with implicit TLS) and verifies the server's chain against
// roots for mail.example.org. Without SNI the client sends no server name
// (as most SMTP senders do) and verifies the chain itself. It returns the
// leaf's DER.
func handshakeVerified(t *testing.T, what, addr string, roots *x509.CertPool, sni bool,
	starttls func(net.Conn, *tls.Config) (*tls.ConnectionState, error)) []byte {
	t.Helper()
	cfg := &tls.Config{ServerName: "mail.example.org", RootCAs: roots}
	if !sni {
		cfg = &tls.Config{
			InsecureSkipVerify: true, // verified below, by hand, with no SNI sent
			VerifyConnection: func(cs tls.ConnectionState) error {
				if cs.ServerName != "" {
					return fmt.Errorf("SNI %q sent", cs.ServerName)
				}
				inter := x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					inter.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: "mail.example.org", Roots: roots, Intermediates: inter})
				return err
			},
		}
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var state *tls.ConnectionState
	if starttls != nil {
		state, err = starttls(c, cfg)
	} else {
		tc := tls.Client(c, cfg)
		if err = tc.Handshake(); err == nil {
			cs := tc.ConnectionState()
			state = &cs
		}
	}
	if err != nil {
		t.Fatalf("%s: handshake verified against Pebble's root: %v", what, err)
	}
	return state.PeerCertificates[0].Raw
}
