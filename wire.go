package main

import (
	"crypto/tls"
	"log/slog"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server"
	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/imap"
	"github.com/maildird/maildird/server/pop3"
	"github.com/maildird/maildird/server/queue"
	"github.com/maildird/maildird/server/smtp"
	mdtls "github.com/maildird/maildird/tls"
)

// deps are what the protocol servers share.
type deps struct {
	cfg    *config.Config
	log    *slog.Logger
	store  *maildir.Store
	users  *auth.Store
	authn  *auth.Authenticator
	tlsSrc *mdtls.Source // nil: TLS off
	queue  *queue.Queue  // nil: remote recipients refused with 451
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
	var imapSrv *imap.Server
	newIMAP := func() *imap.Server {
		if imapSrv == nil {
			imapSrv = imap.New(imap.Options{
				Hostname: d.cfg.Server.Hostname,
				TLS:      d.tlsConfig(mdtls.ConfigOptions{SessionTickets: true}),
				Store:    d.store, Auth: d.authn,
				AllowPlaintext: d.cfg.Auth.AllowPlaintext,
				MaxMessageSize: d.cfg.Limits.MaxMessageSize,
				Logger:         d.log,
			})
		}
		return imapSrv
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
		case "imap":
			p.serve = &server.Listener{Name: l.Name, Addr: l.Addr, Service: newIMAP()}
		case "imaps":
			if cfg := d.tlsConfig(mdtls.ConfigOptions{SessionTickets: true}); cfg != nil {
				p.serve = &server.Listener{Name: l.Name, Addr: l.Addr, Service: newIMAP(), TLS: cfg}
			} else {
				p.reason = "needs TLS, which is off"
			}
		case "smtp", "submission", "submissions":
			p.serve, p.reason = d.smtpListener(l)
		case "http", "https":
			// planWeb, below, once the mail listeners are known.
		default:
			p.reason = "not served by this build yet"
		}
		out = append(out, p)
	}
	return planWeb(d, out)
}

func (d deps) tlsConfig(opts mdtls.ConfigOptions) *tls.Config {
	if d.tlsSrc == nil {
		return nil
	}
	return d.tlsSrc.Config(opts)
}

// smtpListener builds one SMTP engine per port: MX intake, submission
// with STARTTLS, or submission with implicit TLS (the engine does the
// handshake itself, so the group's listener stays plain).
func (d deps) smtpListener(l config.Listener) (*server.Listener, string) {
	mode := map[string]smtp.Mode{"smtp": smtp.MX, "submission": smtp.Submission, "submissions": smtp.SubmissionTLS}[l.Name]
	cfg := d.tlsConfig(mdtls.ConfigOptions{SessionTickets: false})
	if mode == smtp.SubmissionTLS && cfg == nil {
		return nil, "needs TLS, which is off"
	}
	srv := smtp.New(smtp.Options{
		Hostname: d.cfg.Server.Hostname,
		Mode:     mode,
		TLS:      cfg,
		Limits: smtp.Limits{
			MaxMessageSize: d.cfg.Limits.MaxMessageSize,
			MaxRecipients:  d.cfg.Limits.MaxRecipients,
		},
		Store:          smtp.StoreFunc(d.newDelivery),
		Queue:          d.enqueuer(mode),
		Directory:      d.users,
		Auth:           d.authn,
		IsLocalDomain:  d.cfg.IsLocalDomain,
		AllowPlaintext: d.cfg.Auth.AllowPlaintext,
		Postmaster:     "postmaster@" + d.cfg.Server.Domains[0],
		Logger:         d.log,
	})
	return &server.Listener{Name: l.Name, Addr: l.Addr, Service: srv}, ""
}

// newDelivery adapts maildir's two-phase delivery to smtp.Delivery.
func (d deps) newDelivery(maxSize int64) (smtp.Delivery, error) {
	del, err := d.store.NewDelivery(maxSize)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return del, nil
}
