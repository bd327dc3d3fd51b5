package tls

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// reloadCheckInterval bounds how often a handshake stats the files; a
// renewal is picked up within this time.
const reloadCheckInterval = 5 * time.Second

// fileCert serves a PEM certificate and key from disk and reloads them when
// either file changes, so a certbot renewal needs no restart. A renewal that
// leaves a bad pair (a half-copied file, a key of another certificate)
// keeps the old certificate in use and logs why.
type fileCert struct {
	certPath, keyPath string
	logger            *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	certStamp fileStamp
	keyStamp  fileStamp
	checked   time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

func newFileCert(certPath, keyPath string, logger *slog.Logger, now func() time.Time) (*fileCert, error) {
	fc := &fileCert{certPath: certPath, keyPath: keyPath, logger: logger, now: now}
	if err := fc.load(); err != nil {
		return nil, err
	}
	fc.checked = now()
	return fc, nil
}

func (fc *fileCert) load() error {
	certStamp, err := stampOf(fc.certPath)
	if err != nil {
		return fmt.Errorf("tls: certificate file: %w", err)
	}
	keyStamp, err := stampOf(fc.keyPath)
	if err != nil {
		return fmt.Errorf("tls: key file: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(fc.certPath, fc.keyPath)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", fc.certPath, fc.keyPath, err)
	}
	fc.cert, fc.certStamp, fc.keyStamp = &cert, certStamp, keyStamp
	return nil
}

// getCertificate is a tls.Config.GetCertificate that reloads changed files.
func (fc *fileCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	now := fc.now()
	if now.Sub(fc.checked) >= reloadCheckInterval {
		fc.checked = now
		fc.reloadIfChanged()
	}
	return fc.cert, nil
}

func (fc *fileCert) reloadIfChanged() {
	certStamp, err1 := stampOf(fc.certPath)
	keyStamp, err2 := stampOf(fc.keyPath)
	if err1 != nil || err2 != nil {
		fc.logger.Warn("tls: certificate files unreadable, keeping the loaded certificate",
			"cert", fc.certPath, "key", fc.keyPath, "cert_error", err1, "key_error", err2)
		return
	}
	if certStamp == fc.certStamp && keyStamp == fc.keyStamp {
		return
	}
	if err := fc.load(); err != nil {
		fc.logger.Warn("tls: new certificate files rejected, keeping the loaded certificate", "error", err)
		// Remember the bad stamps so the same bad files are not re-read on
		// every handshake; the next change is tried again.
		fc.certStamp, fc.keyStamp = certStamp, keyStamp
		return
	}
	fc.logger.Info("tls: certificate reloaded", "cert", fc.certPath)
}
