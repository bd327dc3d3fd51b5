package maildir

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// uidBook checks that a base name keeps one UID and a UID one base name,
// across every view of every session.
type uidBook struct {
	mu     sync.Mutex
	byBase map[string]uint32
	byUID  map[uint32]string
}

func (b *uidBook) check(t *testing.T, who string, m *Mailbox) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := 0; i < m.Len(); i++ {
		r := &m.recs[i]
		base := m.baseOf(r)
		if u, ok := b.byBase[base]; ok && u != r.uid {
			t.Errorf("%s: %s has UID %d, earlier %d", who, base, r.uid, u)
		}
		if o, ok := b.byUID[r.uid]; ok && o != base {
			t.Errorf("%s: UID %d is %s, earlier %s", who, r.uid, base, o)
		}
		b.byBase[base], b.byUID[r.uid] = r.uid, base
	}
}

// Several sessions deliver, flag and expunge on one mailbox while another
// program renames files and drops new ones in: UIDs stay unique and fixed,
// UIDNEXT only grows, and no flag change is lost.
func TestConcurrentSessions(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	book := &uidBook{byBase: map[string]uint32{}, byUID: map[uint32]string{}}
	const workers, rounds = 3, 25
	var mu sync.Mutex
	tagged := map[int]map[string]bool{} // worker -> bases it gave its keyword
	expunged := map[string]bool{}
	seenByExternal := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < workers; w++ {
		tagged[w] = map[string]bool{}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m, err := s.OpenMailbox(boxAddr, "INBOX")
			if err != nil {
				t.Error(err)
				return
			}
			defer m.Close()
			rng := rand.New(rand.NewSource(int64(w)))
			kw := fmt.Sprintf("k%d", w)
			lastNext := m.UIDNext()
			for r := 0; r < rounds; r++ {
				if _, err := s.Deliver(boxAddr, "", strings.NewReader(fmt.Sprintf("w%d r%d\n", w, r)), 0); err != nil {
					t.Error(err)
					return
				}
				if _, err := m.Sync(); err != nil {
					t.Error(err)
					return
				}
				if m.UIDNext() < lastNext {
					t.Errorf("worker %d: UIDNEXT went from %d to %d", w, lastNext, m.UIDNext())
				}
				lastNext = m.UIDNext()
				book.check(t, fmt.Sprint("worker ", w), m)
				var uids []uint32
				for i := 0; i < m.Len(); i++ {
					uids = append(uids, m.recs[i].uid)
				}
				if err := m.StoreFlags(uids, FlagsAdd, 0, []string{kw}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i := 0; i < m.Len(); i++ {
					if r := &m.recs[i]; r.kw != 0 && strings.Contains(m.nameOf(r), infoSep) {
						if ks := m.kw.list(r.kw); containsStr(ks, kw) {
							tagged[w][m.baseOf(r)] = true
						}
					}
				}
				mu.Unlock()
				if w == 0 && m.Len() > 0 && rng.Intn(3) == 0 {
					victim := m.recs[rng.Intn(m.Len())]
					base := m.baseOf(&victim)
					got, err := m.Expunge([]uint32{victim.uid})
					if err != nil {
						t.Error(err)
					}
					if len(got) == 1 {
						mu.Lock()
						expunged[base] = true
						mu.Unlock()
					}
				}
			}
		}(w)
	}
	// The other program: adds \Seen by renaming, and drops files into new/.
	var ext sync.WaitGroup
	ext.Add(1)
	go func() {
		defer ext.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%5 == 0 {
				os.WriteFile(filepath.Join(dir, "tmp", fmt.Sprint("ext", i)), []byte("ext\n"), 0o600)
				os.Rename(filepath.Join(dir, "tmp", fmt.Sprint("ext", i)), filepath.Join(dir, "new", fmt.Sprint("ext", i)))
			}
			names, _, _, _ := readDirNames(filepath.Join(dir, "cur"))
			for _, n := range names {
				fi := parseFileName(n)
				if fi.flags&FlagSeen != 0 || !strings.Contains(n, infoSep) {
					continue
				}
				if os.Rename(filepath.Join(dir, "cur", n), filepath.Join(dir, "cur", curName(fi.base, fi.flags|FlagSeen, fi.kw, fi.other))) == nil {
					mu.Lock()
					seenByExternal[fi.base] = true
					mu.Unlock()
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	ext.Wait()

	final := boxOpen(t, s, "INBOX")
	book.check(t, "final", final)
	present := map[string]Message{}
	for _, msg := range final.Messages() {
		present[msg.Base] = msg
	}
	for base := range expunged {
		if _, ok := present[base]; ok {
			t.Errorf("expunged %s is back", base)
		}
	}
	for w, bases := range tagged {
		for base := range bases {
			if msg, ok := present[base]; ok && !containsStr(msg.Keywords, fmt.Sprintf("k%d", w)) {
				t.Errorf("%s lost keyword k%d: %v", base, w, msg.Keywords)
			}
		}
	}
	for base := range seenByExternal {
		if msg, ok := present[base]; ok && msg.Flags&FlagSeen == 0 {
			t.Errorf("%s lost the external \\Seen", base)
		}
	}
	if len(present) < workers*rounds-len(expunged) {
		t.Errorf("%d messages, want at least %d", len(present), workers*rounds-len(expunged))
	}
	if _, err := os.Stat(filepath.Join(dir, uidlistLockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left behind: %v", err)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
