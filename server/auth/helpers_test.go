package auth

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// logBuffer collects log output so tests can check what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// openTest opens a Store in dir with a fast bcrypt cost.
func openTest(t *testing.T, dir string, domains ...string) (*Store, *logBuffer) {
	t.Helper()
	logger, buf := testLogger(t)
	s, err := Open(dir, Options{Domains: domains, Logger: logger, BcryptCost: bcrypt.MinCost, ReloadInterval: time.Millisecond})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s, buf
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mustAddUser(t *testing.T, s *Store, addr, password string) {
	t.Helper()
	if err := s.AddUser(addr, password); err != nil {
		t.Fatalf("AddUser(%s): %v", addr, err)
	}
}

func passwdPath(dir string) string { return filepath.Join(dir, passwdName) }
func aliasPath(dir string) string  { return filepath.Join(dir, aliasName) }
