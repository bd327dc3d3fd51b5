package main

import (
	"crypto/tls"
	"log/slog"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server"
	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/pop3"
	mdtls "github.com/maildird/maildird/tls"
)

// deps are what the protocol servers share.
type deps struct {
	cfg    *config.Config
	log    *slog.Logger
	store  *maildir.Store
	authn  *auth.Authenticator
	tlsSrc *mdtls.Source // nil: TLS off
}

// plannedListener is one [listen] entry and whether this build serves it.
type plannedListener struct {
	config.Listener
	serve  *server.Listener // nil: not served
	reason string           // why not, when serve is nil
}

// planListeners builds a server for each configured listener this build
// implements. One server instance serves both the plain and the TLS port
// of a protocol.
func planListeners(d deps) []plannedListener {
	var pop *pop3.Server
	newPOP3 := func() *pop3.Server {
		if pop == nil {
			starttls := d.tlsConfig(mdtls.ConfigOptions{SessionTickets: true})
			pop = pop3.New(pop3.Options{
				Hostname: d.cfg.Server.Hostname, TLS: starttls,
				Store: pop3.MaildirStore{Store: d.store}, Auth: d.authn,
				AllowPlaintext: d.cfg.Auth.AllowPlaintext, Logger: d.log,
			})
		}
		return pop
	}
	var out []plannedListener
	for _, l := range d.cfg.Listeners() {
		p := plannedListener{Listener: l}
		switch l.Name {
		case "pop3":
			p.serve = &server.Listener{Name: l.Name, Addr: l.Addr, Service: newPOP3()}
		case "pop3s":
			if cfg := d.tlsConfig(mdtls.ConfigOptions{SessionTickets: true}); cfg != nil {
				p.serve = &server.Listener{Name: l.Name, Addr: l.Addr, Service: newPOP3(), TLS: cfg}
			} else {
				p.reason = "needs TLS, which is off"
			}
		default:
			p.reason = "not served by this build yet"
		}
		out = append(out, p)
	}
	return out
}

func (d deps) tlsConfig(opts mdtls.ConfigOptions) *tls.Config {
	if d.tlsSrc == nil {
		return nil
	}
	return d.tlsSrc.Config(opts)
}
