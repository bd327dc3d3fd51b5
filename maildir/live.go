package maildir

import (
	"os"
	"sync"
)

// liveSet is the per-process state shared by every Mailbox of a Store: the
// open mailboxes by folder directory (so a change made through one reaches
// every other view of the same folder at once), one semaphore per folder
// in front of its dotlock, and the generator of unique message names.
type liveSet struct {
	hostname string
	names    *uniqueNames

	mu    sync.Mutex
	boxes map[string]map[*Mailbox]struct{}
	sems  map[string]chan struct{}
}

func newLiveSet() *liveSet {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return &liveSet{
		hostname: h,
		names:    newUniqueNames(),
		boxes:    make(map[string]map[*Mailbox]struct{}),
		sems:     make(map[string]chan struct{}),
	}
}

func (l *liveSet) add(dir string, m *Mailbox) {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.boxes[dir]
	if set == nil {
		set = make(map[*Mailbox]struct{})
		l.boxes[dir] = set
	}
	set[m] = struct{}{}
}

func (l *liveSet) remove(dir string, m *Mailbox) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if set := l.boxes[dir]; set != nil {
		delete(set, m)
		if len(set) == 0 {
			delete(l.boxes, dir)
		}
	}
}

// notify wakes every open Mailbox of dir except the one that acted.
// It never blocks: a Mailbox that has a wake-up pending keeps just one.
func (l *liveSet) notify(dir string, except *Mailbox) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for m := range l.boxes[dir] {
		if m != except {
			m.wake()
		}
	}
}

// semaphore returns the in-process lock of a folder directory.
func (l *liveSet) semaphore(dir string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.sems[dir]
	if c == nil {
		c = make(chan struct{}, 1)
		l.sems[dir] = c
	}
	return c
}
