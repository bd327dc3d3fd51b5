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
	// The lock is written under a temporary name in tmp/ and linked into
	// place, as Dovecot does, so a lock file always names its owner, also
	// when the owner is killed half-way.
	content := strconv.Itoa(os.Getpid()) + ":" + s.live.hostname
	tmp := filepath.Join(dir, "tmp", "lock."+s.live.names.next(time.Now()))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		<-sem
		return nil, fmt.Errorf("maildir: writing lock: %w", err)
	}
	defer os.Remove(tmp)
	// A lock left behind by a crash must be removable by Dovecot.
	if err := s.ownerOf(dir).chown(tmp); err != nil {
		<-sem
		return nil, err
	}
	wait := time.Millisecond
	for {
		err := os.Link(tmp, l.path)
		if err == nil {
			st, serr := os.Stat(l.path)
			if serr != nil {
				<-sem
				return nil, fmt.Errorf("maildir: creating %s: %w", l.path, serr)
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
