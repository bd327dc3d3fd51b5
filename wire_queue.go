package main

import (
	"log/slog"
	"path/filepath"

	"github.com/maildird/maildird/dnsresolv"
	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/queue"
	"github.com/maildird/maildird/server/smtp"
)

// queueDir is the spool under data_dir.
func queueDir(cfg *config.Config) string { return filepath.Join(cfg.Server.DataDir, "queue") }

// dkimDir holds the DKIM keys under data_dir.
func dkimDir(cfg *config.Config) string { return filepath.Join(cfg.Server.DataDir, "dkim") }

// newQueue builds the outbound queue: direct delivery by MX lookup, or
// the [delivery] smarthost.
func newQueue(cfg *config.Config, logger *slog.Logger, store *maildir.Store, users *auth.Store, keys *queue.DKIM) (*queue.Queue, error) {
	d := cfg.Delivery
	return queue.New(queue.Options{
		Dir: queueDir(cfg), Hostname: cfg.Server.Hostname,
		IsLocalDomain: cfg.IsLocalDomain,
		Local:         store, Lookup: users.Lookup, DKIM: keys,
		Resolver: dnsresolv.New(dnsresolv.Options{}),
		Smarthost: queue.Smarthost{
			Addr: d.Smarthost, TLS: d.SmarthostTLS, User: d.SmarthostUser, Password: d.SmarthostPassword,
		},
		Logger: logger,
	})
}

// enqueuer adapts the queue to smtp.Enqueuer for one listener: submitted
// mail is DKIM-signed, mail relayed on port 25 (an alias forwarding
// elsewhere) is not.
type enqueuer struct {
	q    *queue.Queue
	opts queue.MessageOptions
}

func (e enqueuer) NewMessage(from string, maxSize int64) (smtp.Outgoing, error) {
	m, err := e.q.NewMessage(from, maxSize, e.opts)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return m, nil
}

// enqueuer is the listener's smtp.Enqueuer; nil (remote recipients
// refused with 451) while there is no queue.
func (d deps) enqueuer(mode smtp.Mode) smtp.Enqueuer {
	if d.queue == nil {
		return nil
	}
	return enqueuer{q: d.queue, opts: queue.MessageOptions{Sign: mode != smtp.MX}}
}
