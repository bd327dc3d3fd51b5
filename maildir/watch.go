package maildir

// Waiting for changes (IMAP IDLE). A Mailbox wakes up from three sources:
// the in-process broadcast of liveSet (another Mailbox of this process
// changed the folder), inotify on new/, cur/ and the folder directory
// (another program changed it), and, where inotify is missing or turned off
// with Options.NoInotify, a poll of the directories' stamps.

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// defaultPollInterval is how often Wait compares stamps when polling.
const defaultPollInterval = time.Second

type watcher struct {
	f      *os.File
	events chan struct{}
	wg     sync.WaitGroup
}

// newWatcher watches dirs with inotify; it fails where inotify is missing.
func newWatcher(dirs []string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	const mask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	for _, d := range dirs {
		if _, err := unix.InotifyAddWatch(fd, d, mask); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	w := &watcher{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan struct{}, 1)}
	w.wg.Add(1)
	go w.run()
	return w, nil
}

func (w *watcher) run() {
	defer w.wg.Done()
	buf := make([]byte, 16<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return // closed
		}
		if n > 0 {
			select {
			case w.events <- struct{}{}:
			default:
			}
		}
	}
}

func (w *watcher) close() {
	w.f.Close()
	w.wg.Wait()
}

// Wait returns when the folder may have changed: another Mailbox of this
// process changed it, or inotify (or, without it, a poll) saw a change in
// its directories. The caller then calls Sync. Wait returns at once when
// something changed since the last Sync, ctx.Err() when ctx ends first, and
// ErrClosed when the Mailbox is or gets closed. Wait may run while another
// goroutine uses the Mailbox.
func (m *Mailbox) Wait(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.watch == nil && !m.s.noInotify && !m.noWatch {
		w, err := newWatcher([]string{filepath.Join(m.dir, "new"), filepath.Join(m.dir, "cur"), m.dir})
		if err != nil {
			m.s.log.Info("maildir: inotify unavailable, polling", "dir", m.dir, "err", err)
			m.noWatch = true
		} else {
			m.watch = w
		}
	}
	w := m.watch
	seen := m.seen
	done := m.done
	m.mu.Unlock()
	if m.stampsNow() != seen {
		return nil
	}
	var events chan struct{}
	var tick <-chan time.Time
	if w != nil {
		events = w.events
	} else {
		t := time.NewTicker(m.pollEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return ErrClosed
		case <-m.notify:
			return nil
		case <-events:
			return nil
		case <-tick:
			if m.stampsNow() != seen {
				return nil
			}
		}
	}
}

// folderStamps are the stamps Wait compares: new/, cur/ and the uidlist.
type folderStamps struct{ new, cur, uidlist stamp }

func (m *Mailbox) stampsNow() folderStamps {
	return folderStamps{
		new:     statStamp(filepath.Join(m.dir, "new")),
		cur:     statStamp(filepath.Join(m.dir, "cur")),
		uidlist: statStamp(filepath.Join(m.dir, uidlistName)),
	}
}

// noteSeen records the stamps the view reflects, for Wait.
func (m *Mailbox) noteSeen() {
	st := folderStamps{new: m.newDir.st, cur: m.curDir.st, uidlist: m.ulStamp}
	m.mu.Lock()
	m.seen = st
	m.mu.Unlock()
}
