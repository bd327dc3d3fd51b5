package tls

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme"
)

// Modes of the [tls] mode key.
const (
	ModeAutocert   = "autocert"
	ModeFiles      = "files"
	ModeSelfSigned = "selfsigned"
	ModeOff        = "off"
)

// Options configures a Source.
type Options struct {
	Mode     string // one of the Mode constants
	Hostname string // the certificate's name for selfsigned and autocert
	DataDir  string // selfsigned keeps its pair in <DataDir>/tls, autocert its cache in <DataDir>/acme
	CertFile string // files mode
	KeyFile  string // files mode

	// Autocert mode.
	Domains       []string // local domains: autoconfig.<d> and autodiscover.<d> get certificates too
	ACMEEmail     string   // account contact for expiry notices; may be empty
	ACMEDirectory string   // the CA's directory URL; "" is Let's Encrypt's production one
	CacheDir      string   // "" is <DataDir>/acme

	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// Source hands out certificates to listeners. A nil *Source means TLS is off.
type Source struct {
	getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	acme           *acmeCert // autocert mode only
}

// New builds the Source for opts. Mode off returns a nil Source.
func New(opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch opts.Mode {
	case ModeOff:
		return nil, nil
	case ModeSelfSigned:
		cert, err := LoadOrCreateSelfSigned(filepath.Join(opts.DataDir, "tls"), opts.Hostname, opts.Now())
		if err != nil {
			return nil, err
		}
		return &Source{getCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }}, nil
	case ModeFiles:
		fc, err := newFileCert(opts.CertFile, opts.KeyFile, opts.Logger, opts.Now)
		if err != nil {
			return nil, err
		}
		return &Source{getCertificate: fc.getCertificate}, nil
	case ModeAutocert:
		a, err := newACMECert(opts)
		if err != nil {
			return nil, err
		}
		return &Source{getCertificate: a.getCertificate, acme: a}, nil
	default:
		return nil, fmt.Errorf("tls: unknown mode %q (want autocert, files, selfsigned or off)", opts.Mode)
	}
}

// ConfigOptions tunes the tls.Config of one listener.
type ConfigOptions struct {
	// SessionTickets stays off for SMTP listeners: Microsoft's SMTP client
	// aborts STARTTLS with Go servers that send tickets.
	SessionTickets bool
	// NextProtos are the ALPN protocols of the listener ("http/1.1" for
	// the https port); mail listeners have none.
	NextProtos []string
	// ACMEChallenges answers tls-alpn-01 challenges on this listener in
	// mode autocert. The CA asks on port 443 only, so only the https
	// listener sets it.
	ACMEChallenges bool
}

// Config returns a server tls.Config with TLS 1.2 as the minimum.
func (s *Source) Config(opts ConfigOptions) *tls.Config {
	protos := append([]string(nil), opts.NextProtos...)
	if opts.ACMEChallenges && s.acme != nil {
		protos = append(protos, acme.ALPNProto)
	}
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		GetCertificate:         s.getCertificate,
		SessionTicketsDisabled: !opts.SessionTickets,
		NextProtos:             protos,
	}
}

// HTTPChallenges returns the handler for /.well-known/acme-challenge/ that
// the web server mounts on the http port, or nil when the mode is not
// autocert. Calling it is what turns http-01 on: without it the CA can
// only validate over tls-alpn-01 on port 443.
func (s *Source) HTTPChallenges() http.Handler {
	if s == nil || s.acme == nil {
		return nil
	}
	return s.acme.httpChallenges()
}

// Prefetch makes sure the hostname's certificate is at hand, from the
// cache or from the CA, so that the first client does not wait for an
// issuance. Call it once the http listener serves. It does nothing outside
// mode autocert.
func (s *Source) Prefetch(ctx context.Context) error {
	if s == nil || s.acme == nil {
		return nil
	}
	return s.acme.prefetch(ctx)
}
