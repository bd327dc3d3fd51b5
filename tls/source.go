package tls

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
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
	Hostname string // the certificate's name for selfsigned
	DataDir  string // selfsigned keeps its pair in <DataDir>/tls
	CertFile string // files mode
	KeyFile  string // files mode
	Logger   *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// Source hands out certificates to listeners. A nil *Source means TLS is off.
type Source struct {
	getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
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
		return nil, fmt.Errorf("tls: mode %q is not available in this build yet; use selfsigned or files", opts.Mode)
	default:
		return nil, fmt.Errorf("tls: unknown mode %q (want autocert, files, selfsigned or off)", opts.Mode)
	}
}

// ConfigOptions tunes the tls.Config of one listener.
type ConfigOptions struct {
	// SessionTickets stays off for SMTP listeners: Microsoft's SMTP client
	// aborts STARTTLS with Go servers that send tickets.
	SessionTickets bool
}

// Config returns a server tls.Config with TLS 1.2 as the minimum.
func (s *Source) Config(opts ConfigOptions) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		GetCertificate:         s.getCertificate,
		SessionTicketsDisabled: !opts.SessionTickets,
	}
}
