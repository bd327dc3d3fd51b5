package maildir

// The uidlist dotlock, shared with Dovecot: dovecot-uidlist.lock is created
// with O_EXCL while the uidlist or the keywords file changes, and holds
// "<pid>:<hostname>". A lock is stale, and broken, when its process on this
// host is gone or when it is older than Options.StaleLockAfter (Dovecot's
// default is 2 minutes). Inside one process a per-folder semaphore comes
// first, so goroutines wait on a channel instead of polling the file.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const uidlistLockName = "dovecot-uidlist.lock"

type dotlock struct {
	s    *Store
	path string
	sem  chan struct{}
	ino  uint64
}

// lockFolder takes the dotlock of the folder directory dir, waiting up to
// s.lockTimeout; ErrLocked when it is not free by then.
func (s *Store) lockFolder(dir string) (*dotlock, error) {
	deadline := time.Now().Add(s.lockTimeout)
	sem := s.live.semaphore(dir)
	t := time.NewTimer(s.lockTimeout)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
	case <-t.C:
		return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
	}
	l := &dotlock{s: s, path: filepath.Join(dir, uidlistLockName), sem: sem}
	content := strconv.Itoa(os.Getpid()) + ":" + s.live.hostname
	wait := time.Millisecond
	for {
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(content)
			st, serr := f.Stat()
			cerr := f.Close()
			if err := errors.Join(werr, serr, cerr); err != nil {
				os.Remove(l.path)
				<-sem
				return nil, fmt.Errorf("maildir: creating %s: %w", l.path, err)
			}
			l.ino = inode(st)
			return l, nil
		}
		if !os.IsExist(err) {
			<-sem
			return nil, fmt.Errorf("maildir: creating %s: %w", l.path, err)
		}
		if s.breakStaleLock(l.path) {
			continue
		}
		if time.Now().After(deadline) {
			<-sem
			return nil, fmt.Errorf("%w: %s", ErrLocked, l.path)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// unlock removes the lock file if it is still ours.
func (l *dotlock) unlock() error {
	if l == nil || l.sem == nil {
		return nil
	}
	defer func() { <-l.sem; l.sem = nil }()
	st, err := os.Stat(l.path)
	if err != nil {
		return fmt.Errorf("maildir: our lock %s vanished: %w", l.path, err)
	}
	if inode(st) != l.ino {
		return fmt.Errorf("maildir: our lock %s was replaced", l.path)
	}
	if err := os.Remove(l.path); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// breakStaleLock removes path when it is stale and reports whether it did.
func (s *Store) breakStaleLock(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return os.IsNotExist(err) // gone already: try again at once
	}
	stale, why := false, ""
	if data, err := os.ReadFile(path); err == nil {
		if pid, host, ok := strings.Cut(string(data), ":"); ok && host == s.live.hostname {
			if n, err := strconv.Atoi(pid); err == nil && n > 0 && !processAlive(n) {
				stale, why = true, "process "+pid+" is gone"
			}
		}
	}
	if !stale && time.Since(st.ModTime()) > s.staleLockAfter {
		stale, why = true, "older than "+s.staleLockAfter.String()
	}
	if !stale {
		return false
	}
	// Remove only the file that was judged: another breaker may have
	// replaced it with a fresh lock meanwhile.
	st2, err := os.Stat(path)
	if err != nil || inode(st2) != inode(st) || !st2.ModTime().Equal(st.ModTime()) {
		return err != nil && os.IsNotExist(err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return false
	}
	s.log.Warn("maildir: broke a stale lock", "path", path, "reason", why)
	return true
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func inode(st os.FileInfo) uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Ino
	}
	return 0
}
