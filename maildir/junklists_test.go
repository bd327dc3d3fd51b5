package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestJunkListsAddRemoveVerdict(t *testing.T) {
	s := newJunkStore(t)
	const u = "alice@example.org"
	if junk, err := s.JunkVerdict(u, "spammer@spam.example"); err != nil || junk {
		t.Fatalf("empty lists: %v %v", junk, err)
	}
	if changed, err := s.AddJunkEntry(u, Blocklist, "Spammer@SPAM.example"); err != nil || !changed {
		t.Fatalf("AddJunkEntry: %v %v", changed, err)
	}
	if changed, _ := s.AddJunkEntry(u, Blocklist, "<spammer@spam.example>"); changed {
		t.Error("adding an entry twice changed the list")
	}
	for sender, want := range map[string]bool{"spammer@spam.example": true, "SPAMMER@spam.EXAMPLE": true, "other@spam.example": false, "": false, "garbage": false} {
		if junk, err := s.JunkVerdict(u, sender); err != nil || junk != want {
			t.Errorf("JunkVerdict(%q) = %v, %v; want %v", sender, junk, err, want)
		}
	}
	// A whole domain, then an allowlisted address inside it.
	s.AddJunkEntry(u, Blocklist, "@spam.example")
	if junk, _ := s.JunkVerdict(u, "other@spam.example"); !junk {
		t.Error("@domain entry does not match")
	}
	s.AddJunkEntry(u, Allowlist, "friend@spam.example")
	if junk, _ := s.JunkVerdict(u, "friend@spam.example"); junk {
		t.Error("allowlisted sender judged junk")
	}
	// Moving a sender to the allowlist takes it off the blocklist.
	s.AddJunkEntry(u, Allowlist, "spammer@spam.example")
	block, _ := s.JunkEntries(u, Blocklist)
	allow, _ := s.JunkEntries(u, Allowlist)
	if !slices.Equal(block, []string{"@spam.example"}) || !slices.Equal(allow, []string{"friend@spam.example", "spammer@spam.example"}) {
		t.Errorf("block %q allow %q", block, allow)
	}
	if removed, _ := s.RemoveJunkEntry(u, Blocklist, "@spam.example"); !removed {
		t.Error("RemoveJunkEntry did not find the domain")
	}
	if removed, _ := s.RemoveJunkEntry(u, Blocklist, "@spam.example"); removed {
		t.Error("RemoveJunkEntry removed twice")
	}
	// Another user is unaffected.
	if e, _ := s.JunkEntries("bob@example.org", Allowlist); len(e) != 0 {
		t.Errorf("bob's list %q", e)
	}
}

func TestJunkListsKeepHandEdits(t *testing.T) {
	s := newJunkStore(t)
	const u = "alice@example.org"
	root, err := s.ensureUserRoot(u)
	if err != nil {
		t.Fatal(err)
	}
	hand := "# my list\nSpam@Example.COM\n\nnot an entry\n@junk.example\n"
	if err := os.WriteFile(filepath.Join(root, blocklistFile), []byte(hand), 0o600); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.JunkEntries(u, Blocklist); !slices.Equal(e, []string{"spam@example.com", "@junk.example"}) {
		t.Errorf("entries %q", e)
	}
	s.AddJunkEntry(u, Blocklist, "new@example.net")
	got, _ := os.ReadFile(filepath.Join(root, blocklistFile))
	if string(got) != hand+"new@example.net\n" {
		t.Errorf("file after add:\n%s", got)
	}
}

func TestJunkListsBadInput(t *testing.T) {
	s := newJunkStore(t)
	for _, bad := range []string{"", "nodomain", "a@", "a@b@c", "a b@example.org", "a@exa mple.org", "a@../x", "a@.example"} {
		if _, err := s.AddJunkEntry("alice@example.org", Blocklist, bad); !errors.Is(err, ErrBadListEntry) {
			t.Errorf("AddJunkEntry(%q) = %v", bad, err)
		}
	}
	if _, err := s.AddJunkEntry("../etc@example.org", Blocklist, "a@b.example"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("bad user: %v", err)
	}
	if _, err := s.JunkEntries("alice@example.org", JunkList("other")); err == nil {
		t.Error("unknown list accepted")
	}
}

// TestJunkListsConcurrentEdits: many writers at once lose no entry and
// leave a well-formed file.
func TestJunkListsConcurrentEdits(t *testing.T) {
	s := newJunkStore(t)
	const u = "alice@example.org"
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				e := fmt.Sprintf("s%d-%d@example.net", w, i)
				if _, err := s.AddJunkEntry(u, Blocklist, e); err != nil {
					t.Error(err)
				}
				if i%5 == 0 {
					s.AddJunkEntry(u, Allowlist, e)
				}
				s.JunkVerdict(u, e)
			}
		}()
	}
	wg.Wait()
	block, _ := s.JunkEntries(u, Blocklist)
	allow, _ := s.JunkEntries(u, Allowlist)
	if len(block) != 8*20 || len(allow) != 8*5 {
		t.Errorf("%d blocked and %d allowed, want 160 and 40", len(block), len(allow))
	}
	root, _ := s.userRoot(u)
	text, _ := os.ReadFile(filepath.Join(root, blocklistFile))
	if strings.Count(string(text), "\n") != 160 {
		t.Errorf("blocklist has %d lines", strings.Count(string(text), "\n"))
	}
}

func newJunkStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
