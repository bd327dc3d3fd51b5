package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	mdtls "github.com/maildird/maildird/tls"
)

// badAddresses are refused by every endpoint with the same 400.
var badAddresses = []string{"", "alice", "alice@", "@example.org", "alice@example.com", "a b@example.org",
	"alice@example.org@example.org", strings.Repeat("a", 400) + "@example.org"}

func TestBadOrMissingAddressIs400(t *testing.T) {
	s := newTestServer(standard)
	var bodies []string
	for _, a := range badAddresses {
		q := url.QueryEscape(a)
		for _, rec := range []*httptest.ResponseRecorder{
			do(s, "GET", "https://x/mail/config-v1.1.xml?emailaddress="+q, ""),
			do(s, "GET", "https://x/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+q, ""),
			do(s, "POST", "https://x/autodiscover/autodiscover.xml", strings.Replace(outlookRequest, "%s", a, 1)),
			do(s, "GET", "https://x/apple.mobileconfig?email="+q, ""),
		} {
			wantStatus(t, rec, 400)
			bodies = append(bodies, rec.Body.String())
		}
	}
	wantStatus(t, do(s, "GET", "https://x/mail/config-v1.1.xml", ""), 400)
	wantStatus(t, do(s, "GET", "https://x/apple.mobileconfig", ""), 400)
	for _, b := range bodies {
		if b != bodies[0] {
			t.Errorf("400 bodies differ: %q and %q", b, bodies[0])
		}
	}
}

// TestNoUserExistenceLeak: the answers never depend on whether the
// account exists: two addresses give byte-identical documents once the
// address is swapped. (The server has no access to the users at all.)
func TestNoUserExistenceLeak(t *testing.T) {
	s := newTestServer(standard)
	get := func(addr string) []string {
		return []string{
			do(s, "GET", "https://x/mail/config-v1.1.xml?emailaddress="+addr, "").Body.String(),
			do(s, "POST", "https://x/autodiscover/autodiscover.xml", strings.Replace(outlookRequest, "%s", addr, 1)).Body.String(),
		}
	}
	a, b := get("postmaster@example.org"), get("nosuchuser@example.org")
	for i := range a {
		if strings.ReplaceAll(b[i], "nosuchuser", "postmaster") != a[i] {
			t.Errorf("documents differ beyond the address:\n%s\n%s", a[i], b[i])
		}
	}
}

func TestRouting(t *testing.T) {
	s := newTestServer(standard)
	for _, c := range []struct {
		method, target string
		want           int
	}{
		{"GET", "https://x/", 404},
		{"GET", "https://x/index.html", 404},
		{"GET", "https://x/mail/config-v1.1.xml.bak?emailaddress=a@example.org", 404},
		{"GET", "https://x/.well-known/acme-challenge/token", 404}, // no ACME handler
		{"POST", "https://x/mail/config-v1.1.xml?emailaddress=a@example.org", 405},
		{"DELETE", "https://x/apple.mobileconfig?email=a@example.org", 405},
		{"HEAD", "https://x/mail/config-v1.1.xml?emailaddress=a@example.org", 200},
		{"GET", "http://x/mail/config-v1.1.xml?emailaddress=a@example.org", 200}, // no https: served on http
	} {
		if rec := do(s, c.method, c.target, ""); rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.target, rec.Code, c.want)
		}
	}
	if rec := do(s, "HEAD", "https://x/mail/config-v1.1.xml?emailaddress=a@example.org", ""); rec.Body.Len() != 0 {
		t.Error("HEAD has a body")
	}
}

// TestRedirectToHTTPS: with https configured, plain http answers ACME and
// redirects everything else, to our names only.
func TestRedirectToHTTPS(t *testing.T) {
	acme := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "token-answer") })
	opts := Options{Hostname: "mail.example.org", Domains: []string{"example.org"}, Endpoints: standard,
		ACME: acme, HTTPSPort: 8443, Logger: quiet}
	s := New(opts)
	for _, c := range []struct {
		method, target string
		code           int
		location       string
	}{
		{"GET", "http://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=a@example.org", 302,
			"https://autoconfig.example.org:8443/mail/config-v1.1.xml?emailaddress=a@example.org"},
		{"GET", "http://evil.example.com/apple.mobileconfig?email=a@example.org", 302,
			"https://mail.example.org:8443/apple.mobileconfig?email=a@example.org"},
		{"POST", "http://autodiscover.example.org:80/autodiscover/autodiscover.xml", 307,
			"https://autodiscover.example.org:8443/autodiscover/autodiscover.xml"},
		{"GET", "http://mail.example.org/nothing", 302, "https://mail.example.org:8443/nothing"},
	} {
		rec := do(s, c.method, c.target, "")
		if rec.Code != c.code || rec.Header().Get("Location") != c.location {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.target, rec.Code, rec.Header().Get("Location"), c.code, c.location)
		}
	}
	for _, target := range []string{"http://mail.example.org/.well-known/acme-challenge/abc", "https://mail.example.org/.well-known/acme-challenge/abc"} {
		if rec := do(s, "GET", target, ""); rec.Code != 200 || rec.Body.String() != "token-answer" {
			t.Errorf("%s: %d %q, want the ACME handler's answer", target, rec.Code, rec.Body)
		}
	}
	opts.HTTPSPort = 443
	rec := do(New(opts), "GET", "http://mail.example.org/x?y=1", "")
	if loc := rec.Header().Get("Location"); loc != "https://mail.example.org/x?y=1" {
		t.Errorf("redirect to 443: %q", loc)
	}
}

func TestEndpointFor(t *testing.T) {
	for _, c := range []struct {
		name, addr string
		tlsOn, ok  bool
		want       Endpoint
	}{
		{"imaps", ":993", true, true, Endpoint{IMAP, 993, ImplicitTLS}},
		{"imap", "127.0.0.1:2143", true, true, Endpoint{IMAP, 2143, STARTTLS}},
		{"pop3s", ":995", true, true, Endpoint{POP3, 995, ImplicitTLS}},
		{"pop3", ":110", false, true, Endpoint{POP3, 110, Plain}},
		{"submissions", ":465", true, true, Endpoint{SMTP, 465, ImplicitTLS}},
		{"submission", "[::1]:587", true, true, Endpoint{SMTP, 587, STARTTLS}},
		{"imaps", ":993", false, false, Endpoint{}}, // no TLS: not served
		{"smtp", ":25", true, false, Endpoint{}},    // MX, not for clients
		{"http", ":80", true, false, Endpoint{}},
		{"imap", "no-port", true, false, Endpoint{}},
	} {
		e, ok := EndpointFor(c.name, c.addr, c.tlsOn)
		if ok != c.ok || (ok && e != c.want) {
			t.Errorf("EndpointFor(%s, %s, %v) = %+v, %v; want %+v, %v", c.name, c.addr, c.tlsOn, e, ok, c.want, c.ok)
		}
	}
}

// TestServeHTTPAndHTTPS runs one Server on a plain and a TLS listener on
// 127.0.0.1, as the listener group does: documents over https, a
// redirect over http, and a Shutdown that ends both.
func TestServeHTTPAndHTTPS(t *testing.T) {
	src, err := mdtls.New(mdtls.Options{Mode: mdtls.ModeSelfSigned, Hostname: "mail.example.org", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	plainLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", src.Config(mdtls.ConfigOptions{SessionTickets: true, NextProtos: []string{"http/1.1"}}))
	if err != nil {
		t.Fatal(err)
	}
	httpsPort := tlsLn.Addr().(*net.TCPAddr).Port
	s := New(Options{Hostname: "mail.example.org", Domains: []string{"example.org"}, Endpoints: standard,
		HTTPSPort: httpsPort, Logger: quiet})
	served := make(chan error, 2)
	go func() { served <- s.Serve(plainLn) }()
	go func() { served <- s.Serve(tlsLn) }()

	client := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get("http://" + plainLn.Addr().String() + "/mail/config-v1.1.xml?emailaddress=a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), "https://mail.example.org:") {
		t.Errorf("plain http: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.Get("https://" + tlsLn.Addr().String() + "/mail/config-v1.1.xml?emailaddress=a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<hostname>mail.example.org</hostname>") {
		t.Errorf("https: %d %s", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned %v after Shutdown", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve still running after Shutdown")
		}
	}
}

// TestSlowClientsAreCut: a client that never finishes its request
// headers is disconnected (here with the header timeout shortened), and
// the production limits are set.
func TestSlowClientsAreCut(t *testing.T) {
	s := newTestServer(standard)
	if s.srv.ReadHeaderTimeout == 0 || s.srv.ReadTimeout == 0 || s.srv.WriteTimeout == 0 ||
		s.srv.IdleTimeout == 0 || s.srv.MaxHeaderBytes == 0 {
		t.Fatalf("unbounded http.Server: %+v", s.srv)
	}
	s.srv.ReadHeaderTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Shutdown(context.Background())

	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = bufio.NewReader(c).ReadString('\n')
	if err == nil || time.Since(start) > 4*time.Second {
		t.Errorf("slow client not cut off: err %v after %v", err, time.Since(start))
	}

	// Headers beyond the limit get 431.
	c2, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 2*maxHeaderBytes)+"\r\n\r\n")
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, _ := bufio.NewReader(c2).ReadString('\n')
	if !strings.Contains(status, "431") {
		t.Errorf("oversized headers: %q", status)
	}
}
