package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server"
	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/queue"
	mdtls "github.com/maildird/maildird/tls"
)

// cmdServe runs the server until ctx ends (SIGINT or SIGTERM).
func cmdServe(ctx context.Context, configPath string, e env) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Server.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data_dir: %w", err)
	}
	unlock, err := lockDataDir(cfg.Server.DataDir)
	if err != nil {
		return err
	}
	defer unlock()

	users, err := openUsers(cfg, logger)
	if err != nil {
		return err
	}
	userList, err := users.Users()
	if err != nil {
		return err
	}
	tlsSrc, err := newTLSSource(cfg, logger)
	if err != nil {
		return err
	}
	store, err := maildir.Open(maildir.Options{Root: cfg.Storage.MailRoot, Logger: logger})
	if err != nil {
		return err
	}
	keys, err := queue.LoadDKIM(dkimDir(cfg), cfg.Server.Domains)
	if err != nil {
		return err
	}
	outbound, err := newQueue(cfg, logger, store, users, keys)
	if err != nil {
		return err
	}
	if err := outbound.Start(); err != nil {
		return err
	}
	defer outbound.Stop() // after the listeners: nothing is queued any more
	d := deps{cfg: cfg, log: logger, store: store, users: users, authn: auth.NewAuthenticator(users, auth.ThrottleOptions{}), tlsSrc: tlsSrc, queue: outbound}

	configName := cfg.File
	if configName == "" {
		configName = "built-in local configuration"
	}
	logger.Info("maildird starting", "version", version, "config", configName,
		"hostname", cfg.Server.Hostname, "domains", cfg.Server.Domains,
		"data_dir", cfg.Server.DataDir, "mail_root", cfg.Storage.MailRoot, "users", len(userList))

	plan := planListeners(d)
	var serve []server.Listener
	for _, p := range plan {
		if p.serve != nil {
			serve = append(serve, *p.serve)
		}
	}
	group := server.New(server.Options{MaxConnsPerIP: cfg.Limits.MaxConnsPerIP, Logger: logger})
	if err := group.Start(serve); err != nil {
		return err
	}
	go prefetchCertificate(ctx, tlsSrc, cfg, logger)
	for _, p := range plan {
		if p.serve != nil {
			logger.Info("listen address", "service", p.Name, "addr", p.Addr)
		} else {
			logger.Warn("listen address", "service", p.Name, "addr", p.Addr, "status", p.reason)
		}
	}
	if len(userList) == 0 {
		logger.Info("no users yet; add the first one with: maildird" + configFlag(cfg) +
			" user add you@" + cfg.Server.Domains[0])
	}

	<-ctx.Done()
	logger.Info("maildird stopping", "reason", context.Cause(ctx))
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := group.Shutdown(stopCtx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	return nil
}

// shutdownTimeout bounds the wait for sessions in flight at shutdown;
// systemd's default stop timeout is 90 s.
const shutdownTimeout = 20 * time.Second

// newLogger builds the server's logger from the [log] section.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("[log] level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// newTLSSource builds the certificate source.
func newTLSSource(cfg *config.Config, logger *slog.Logger) (*mdtls.Source, error) {
	return mdtls.New(mdtls.Options{
		Mode: cfg.TLS.Mode, Hostname: cfg.Server.Hostname, DataDir: cfg.Server.DataDir,
		CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key,
		Domains: cfg.Server.Domains, ACMEEmail: cfg.TLS.ACMEEmail, ACMEDirectory: cfg.TLS.ACMEDirectory,
		Logger: logger,
	})
}

// prefetchCertificate gets the hostname's ACME certificate (from the
// cache, or from the CA now that the http listener answers), so that the
// first client does not wait for it. Other modes have nothing to fetch.
func prefetchCertificate(ctx context.Context, src *mdtls.Source, cfg *config.Config, logger *slog.Logger) {
	if cfg.TLS.Mode != mdtls.ModeAutocert {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, mdtls.PrefetchTimeout)
	defer cancel()
	if err := src.Prefetch(ctx); err != nil {
		logger.Warn("tls: no ACME certificate yet; check that DNS points "+cfg.Server.Hostname+
			" here and port 80 reaches [listen] http", "directory", cfg.TLS.ACMEDirectory, "err", err)
		return
	}
	logger.Info("tls: ACME certificate ready", "name", cfg.Server.Hostname)
}

// lockDataDir makes sure only one server runs on a data dir: two would
// race on the queue and on UID assignment. The lock dies with the process.
func lockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "maildird.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another maildird (pid %s) is already running with data_dir %s", bytesTrim(pid), dir)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

func bytesTrim(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "unknown"
	}
	return s
}
