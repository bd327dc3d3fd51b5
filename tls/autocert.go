package tls

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeCert obtains and renews certificates from an ACME CA (Let's Encrypt
// unless acme_directory says otherwise) through autocert, keeping them in
// <data_dir>/acme.
//
// autocert alone refuses a ClientHello without SNI, and most SMTP senders
// and clients that connect by IP address send none: those, and names the
// host policy does not cover, get the hostname's certificate instead.
type acmeCert struct {
	m        *autocert.Manager
	hostname string
	names    map[string]bool // the host policy: every name a certificate is asked for
	logger   *slog.Logger

	httpOnce    sync.Once
	httpHandler http.Handler
}

func newACMECert(opts Options) (*acmeCert, error) {
	host := strings.ToLower(strings.TrimSuffix(opts.Hostname, "."))
	if !strings.Contains(host, ".") || net.ParseIP(host) != nil {
		return nil, fmt.Errorf("tls: mode autocert needs a DNS name with a dot as [server] hostname, not %q", opts.Hostname)
	}
	dir := opts.ACMEDirectory
	if dir == "" {
		dir = autocert.DefaultACMEDirectory
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(opts.DataDir, "acme")
	}
	a := &acmeCert{hostname: host, names: PolicyNames(host, opts.Domains), logger: opts.Logger}
	a.m = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cacheDir),
		HostPolicy: a.policy,
		Email:      opts.ACMEEmail,
		Client:     &acme.Client{DirectoryURL: dir, UserAgent: "maildird"},
	}
	return a, nil
}

// PolicyNames returns the names mode=autocert obtains certificates for:
// the hostname, and autoconfig.<domain> and autodiscover.<domain> for each
// local domain (the names mail clients look up to set themselves up).
func PolicyNames(hostname string, domains []string) map[string]bool {
	names := map[string]bool{strings.ToLower(hostname): true}
	for _, d := range domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		names["autoconfig."+d] = true
		names["autodiscover."+d] = true
	}
	return names
}

// policy is the autocert.HostPolicy. autocert passes the http-01
// request's Host header as it came, so a port is dropped first.
func (a *acmeCert) policy(_ context.Context, host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !a.names[host] {
		return fmt.Errorf("tls: no certificate is obtained for %q (only the hostname, autoconfig.<domain> and autodiscover.<domain>)", host)
	}
	return nil
}

// getCertificate answers tls-alpn-01 challenges and serves the certificate
// for the requested name, or the hostname's when there is no name or one
// outside the policy.
func (a *acmeCert) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if isALPNChallenge(hello) {
		return a.m.GetCertificate(hello)
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if !a.names[name] {
		h := *hello
		h.ServerName = a.hostname
		hello = &h
	}
	cert, err := a.m.GetCertificate(hello)
	if err != nil {
		a.logger.Warn("tls: no ACME certificate", "name", hello.ServerName, "err", err)
	}
	return cert, err
}

func isALPNChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// httpChallenges returns the http-01 handler; asking for it is what lets
// autocert use http-01 at all (tls-alpn-01 is always tried first).
func (a *acmeCert) httpChallenges() http.Handler {
	a.httpOnce.Do(func() { a.httpHandler = a.m.HTTPHandler(http.NotFoundHandler()) })
	return a.httpHandler
}

// prefetch obtains the hostname's certificate now, from the cache or the CA,
// so the first client does not wait for the CA.
func (a *acmeCert) prefetch(ctx context.Context) error {
	hello := &tls.ClientHelloInfo{
		ServerName:        a.hostname,
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
	type result struct {
		cert *tls.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := a.m.GetCertificate(hello)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.err
		}
		if len(r.cert.Certificate) == 0 {
			return errors.New("tls: empty certificate")
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PrefetchTimeout bounds Prefetch's wait for the CA.
const PrefetchTimeout = 5 * time.Minute
