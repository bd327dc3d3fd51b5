package maildir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDotlockStaleAndTimeout(t *testing.T) {
	s, logs := newBoxStore(t)
	s.lockTimeout = 200 * time.Millisecond
	dir := boxInboxDir(t, s)
	lockPath := filepath.Join(dir, uidlistLockName)

	// Held by a live process of this host: wait, then ErrLocked.
	os.WriteFile(lockPath, []byte(strconv.Itoa(os.Getpid())+":"+s.live.hostname), 0o600)
	if _, err := s.lockFolder(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("live lock: %v", err)
	}
	// Held by a process that is gone: broken at once.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	os.WriteFile(lockPath, []byte(strconv.Itoa(cmd.Process.Pid)+":"+s.live.hostname), 0o600)
	l, err := s.lockFolder(dir)
	if err != nil {
		t.Fatalf("dead owner: %v", err)
	}
	if data, _ := os.ReadFile(lockPath); string(data) != strconv.Itoa(os.Getpid())+":"+s.live.hostname {
		t.Fatalf("lock content %q", data)
	}
	if err := l.unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lockPath); !os.IsNotExist(err) {
		t.Fatal("lock not removed")
	}
	// Another host's lock (or no content): broken only by age.
	os.WriteFile(lockPath, []byte("1:otherhost"), 0o600)
	if _, err := s.lockFolder(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("fresh foreign lock: %v", err)
	}
	old := time.Now().Add(-3 * time.Minute)
	os.Chtimes(lockPath, old, old)
	l, err = s.lockFolder(dir)
	if err != nil {
		t.Fatalf("old lock: %v", err)
	}
	l.unlock()
	if !strings.Contains(logs.String(), "broke a stale lock") {
		t.Fatalf("no log: %s", logs)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Fatalf("tmp/ holds %v", tmp)
	}
}
