package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/maildird/maildird/server/auth"
)

// Limits on every request: a home server exposed on port 80 meets
// scanners and slow-loris clients, and none of these documents needs more.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 20 * time.Second
	writeTimeout      = 20 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	maxBodyBytes      = 16 << 10 // an autodiscover request is a few hundred bytes
)

// Options configures a Server.
type Options struct {
	Hostname  string     // the mail server's name, put in every document
	Domains   []string   // local domains: only their addresses get documents
	Endpoints []Endpoint // what maildird listens on (EndpointFor)
	// ACME answers /.well-known/acme-challenge/ (mdtls.Source.HTTPChallenges);
	// nil answers 404 there.
	ACME http.Handler
	// HTTPSPort > 0: plain http redirects everything but ACME to https on
	// this port.
	HTTPSPort int
	Logger    *slog.Logger
}

// Server serves the http and https listeners; it is a server.Service and
// tells them apart by whether the connection is TLS.
type Server struct {
	opts Options
	log  *slog.Logger
	srv  *http.Server
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.opts.Hostname = strings.ToLower(opts.Hostname)
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Failed handshakes and malformed requests from scanners are
		// routine on a public port: debug level only.
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// Serve serves ln until Shutdown; it may be called for both listeners.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting and waits for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// The paths served, compared in lower case (Outlook capitalises
// "Autodiscover" in some versions).
const (
	acmePrefix            = "/.well-known/acme-challenge/"
	pathAutoconfig        = "/mail/config-v1.1.xml"
	pathAutoconfigKnown   = "/.well-known/autoconfig/mail/config-v1.1.xml"
	pathAutodiscover      = "/autodiscover/autodiscover.xml"
	pathAppleMobileconfig = "/apple.mobileconfig"
)

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, acmePrefix) {
		if s.opts.ACME == nil {
			http.NotFound(w, r)
			return
		}
		s.opts.ACME.ServeHTTP(w, r)
		return
	}
	if r.TLS == nil && s.opts.HTTPSPort > 0 {
		s.redirect(w, r)
		return
	}
	switch strings.ToLower(r.URL.Path) {
	case pathAutoconfig, pathAutoconfigKnown:
		if allow(w, r, http.MethodGet, http.MethodHead) {
			s.autoconfig(w, r)
		}
	case pathAutodiscover:
		if allow(w, r, http.MethodPost) {
			s.autodiscover(w, r)
		}
	case pathAppleMobileconfig:
		if allow(w, r, http.MethodGet, http.MethodHead) {
			s.mobileconfig(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

// allow answers 405 unless r uses one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// redirect sends a plain http request to https. The host is kept only
// when it is one of ours, so the redirect never points elsewhere.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !s.ourName(host) {
		host = s.opts.Hostname
	}
	if s.opts.HTTPSPort != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(s.opts.HTTPSPort))
	}
	code := http.StatusFound // what Outlook's redirect method expects
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		code = http.StatusTemporaryRedirect // keeps the POST and its body
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), code)
}

// ourName reports whether host is a name this server answers to.
func (s *Server) ourName(host string) bool {
	if host == s.opts.Hostname {
		return true
	}
	for _, d := range s.opts.Domains {
		if host == d || host == "autoconfig."+d || host == "autodiscover."+d {
			return true
		}
	}
	return false
}

// errBadAddress is the one answer to every unusable address: it does
// not say whether the address is malformed or merely not ours.
const errBadAddress = "give the full e-mail address of an account on this server, such as you@example.org"

// address checks a requested address: well formed, in a local domain.
// It returns it in lower case.
func (s *Server) address(raw string) (string, bool) {
	addr, err := auth.Normalize(strings.TrimSpace(raw))
	if err != nil {
		return "", false
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, d := range s.opts.Domains {
		if strings.EqualFold(domain, strings.TrimSuffix(d, ".")) {
			return addr, true
		}
	}
	return "", false
}

// badAddress answers 400 and logs why at debug level.
func (s *Server) badAddress(w http.ResponseWriter, r *http.Request, raw string) {
	s.log.Debug("web: bad address", "path", r.URL.Path, "address", raw, "remote", r.RemoteAddr)
	http.Error(w, errBadAddress, http.StatusBadRequest)
}

// writeDoc sends a generated document. The documents carry the address,
// so nothing in between may cache them for someone else.
func writeDoc(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}
