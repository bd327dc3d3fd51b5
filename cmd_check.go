package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/maildird/maildird/server/config"
	mdtls "github.com/maildird/maildird/tls"
)

// cmdCheck validates the configuration and the data dir and says, in plain
// words, everything that is wrong — not only the first thing.
func cmdCheck(configPath string, e env) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	name := cfg.File
	if name == "" {
		name = "the built-in local configuration"
	}
	fmt.Fprintf(e.stdout, "ok: configuration %s\n", name)

	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	checkDir(cfg.Server.DataDir, "data_dir", e, report)
	checkDir(cfg.Storage.MailRoot, "mail_root", e, report)
	checkUsers(cfg, e, report)
	checkTLS(cfg, e, report)

	for _, p := range problems {
		fmt.Fprintf(e.stdout, "problem: %s\n", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("check found %d problem(s)", len(problems))
	}
	fmt.Fprintln(e.stdout, "all checks passed")
	return nil
}

// checkDir accepts a directory that exists and is writable, or one that
// does not exist yet but can be created (serve creates it).
func checkDir(dir, key string, e env, report func(string, ...any)) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := existingParent(dir)
		if err := writable(parent); err != nil {
			report("%s %s does not exist and cannot be created: %v", key, dir, err)
			return
		}
		fmt.Fprintf(e.stdout, "ok: %s %s does not exist yet; it is created at the first start\n", key, dir)
	case err != nil:
		report("%s %s: %v", key, dir, err)
	case !fi.IsDir():
		report("%s %s is not a directory", key, dir)
	default:
		if err := writable(dir); err != nil {
			report("%s %s is not writable by this user: %v", key, dir, err)
			return
		}
		fmt.Fprintf(e.stdout, "ok: %s %s\n", key, dir)
	}
}

func existingParent(dir string) string {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}

func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".maildird-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// recordingHandler keeps the warnings a package logs, so check can list
// them as problems instead of letting them scroll by.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, msg)
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func checkUsers(cfg *config.Config, e env, report func(string, ...any)) {
	rec := &recordingHandler{}
	users, err := openUsers(cfg, slog.New(rec))
	if err != nil {
		report("users: %v", err)
		return
	}
	list, err := users.Users()
	if err != nil {
		report("users: %v", err)
		return
	}
	aliases, err := users.Aliases()
	if err != nil {
		report("aliases: %v", err)
		return
	}
	for _, m := range rec.msgs {
		report("users: %s", m)
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "note: no users yet; add one with: maildird%s user add you@%s\n",
			configFlag(cfg), cfg.Server.Domains[0])
		return
	}
	fmt.Fprintf(e.stdout, "ok: %d user(s), %d alias(es)\n", len(list), len(aliases))
}

func configFlag(cfg *config.Config) string {
	if cfg.File == "" {
		return ""
	}
	return " -config " + cfg.File
}

func checkTLS(cfg *config.Config, e env, report func(string, ...any)) {
	switch cfg.TLS.Mode {
	case mdtls.ModeFiles:
		if _, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key); err != nil {
			report("tls: the certificate and key do not load as a pair: %v", err)
			return
		}
		fmt.Fprintf(e.stdout, "ok: tls certificate %s\n", cfg.TLS.Cert)
	case mdtls.ModeAutocert:
		if _, err := newTLSSource(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			report("%v", err)
			return
		}
		if cfg.Listen.HTTP == "" && cfg.Listen.HTTPS == "" {
			report("tls: mode autocert needs [listen] http (port 80) or https (port 443): Let's Encrypt checks the box there")
			return
		}
		fmt.Fprintf(e.stdout, "ok: tls mode autocert for %s, certificates kept in %s\n",
			cfg.Server.Hostname, filepath.Join(cfg.Server.DataDir, "acme"))
	case mdtls.ModeOff:
		fmt.Fprintln(e.stdout, "note: tls is off: passwords are only accepted from this machine itself")
	default:
		fmt.Fprintf(e.stdout, "ok: tls mode %s\n", cfg.TLS.Mode)
	}
}
