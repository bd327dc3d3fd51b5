package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Files left in tmp/ for 36 hours go when the folder is opened read-write
// (not read-only); younger files and directories stay.
func TestOpenSweepsOldTmpFiles(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	tmp := filepath.Join(dir, "tmp")
	old := filepath.Join(tmp, "1700000000.M1P1.dead")
	os.WriteFile(old, []byte("half a message"), 0o600)
	// A years-old mtime (an append's INTERNALDATE) does not make a file old.
	os.Chtimes(old, time.Now().Add(-1000*time.Hour), time.Now().Add(-1000*time.Hour))
	os.Mkdir(filepath.Join(tmp, tmpLeftoverPrefix+"x"), 0o700)

	boxOpen(t, s, "INBOX").Close()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a file changed moments ago was swept: %v", err)
	}
	// 37 hours later by the Store's clock.
	later := time.Now().Add(37 * time.Hour)
	s.now = func() time.Time { return later }
	ro, err := s.OpenMailboxReadOnly(boxAddr, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a read-only open swept tmp/: %v", err)
	}
	boxOpen(t, s, "INBOX").Close()
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("old file still in tmp/: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, tmpLeftoverPrefix+"x")); err != nil {
		t.Fatalf("a directory in tmp/ was removed: %v", err)
	}
}

// A base name in both new/ and cur/ is two messages: the new/ one is
// renamed to a fresh base name and gets its own UID.
func TestDuplicateBaseInNewAndCur(t *testing.T) {
	s, logs := newBoxStore(t)
	dir := boxInboxDir(t, s)
	base := "1700000000.M1P1.host,S=2,W=3"
	os.WriteFile(filepath.Join(dir, "cur", base+":2,S"), []byte("a\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "new", base), []byte("b\n"), 0o600)
	for _, readOnly := range []bool{true, false} {
		var m *Mailbox
		var err error
		if readOnly {
			m, err = s.OpenMailboxReadOnly(boxAddr, "INBOX")
		} else {
			m, err = s.OpenMailbox(boxAddr, "INBOX")
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != 2 {
			t.Fatalf("%d messages, want 2", m.Len())
		}
		var bodies []string
		for _, msg := range m.Messages() {
			bodies = append(bodies, boxRead(t, m, msg.UID))
		}
		if !slices.Equal(bodies, []string{"a\r\n", "b\r\n"}) {
			t.Fatalf("bodies by UID %q", bodies)
		}
		if got := m.At(0); got.Base != base || got.Flags != FlagSeen {
			t.Fatalf("the cur/ file lost its UID: %+v", got)
		}
		if got := m.At(1); got.Base == base || got.Size != 3 {
			t.Fatalf("the new/ file: %+v", got)
		}
		m.Close()
	}
	if !strings.Contains(logs.String(), "renamed to get its own UID") {
		t.Errorf("no warning logged:\n%s", logs)
	}
	ul := boxReadUL(t, dir)
	if len(ul.recs) != 2 || ul.recs[0].base != base {
		t.Fatalf("uidlist %+v", ul.recs)
	}
}

// Moving new/ to cur/ never replaces a file already in cur/.
func TestMoveToCurDoesNotReplace(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	res := boxDeliver(t, s, "", "b\n")
	m, err := s.OpenMailboxReadOnly(boxAddr, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// A file of that name turns up in cur/ after the view was read.
	other := filepath.Join(dir, "cur", res.Base+":2,")
	os.WriteFile(other, []byte("a\n"), 0o600)
	if m.moveNewToCur() {
		t.Fatal("moveNewToCur reported a move")
	}
	if data, _ := os.ReadFile(other); string(data) != "a\n" {
		t.Fatalf("cur/ file replaced: %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "new", res.Base)); err != nil {
		t.Fatalf("new/ file lost: %v", err)
	}
}
