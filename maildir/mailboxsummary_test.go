package maildir

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// rewriteKeepingStamp replaces old with new (same length) in the message's
// file and puts its mtime back: a change the summary cache cannot see.
func rewriteKeepingStamp(t *testing.T, path, old, new string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte(old)) || len(old) != len(new) {
		t.Fatalf("%q not in %q", old, data)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func summarySubject(t *testing.T, m *Mailbox, uid uint32) string {
	t.Helper()
	s, err := m.Summary(uid)
	if err != nil {
		t.Fatalf("Summary(%d): %v", uid, err)
	}
	return s.Envelope.Subject
}

// A second Mailbox answers from the cache the first one filled, without
// reading the message (its content was changed behind the cache's back);
// an entry whose file changed size or mtime is rebuilt.
func TestSummaryFromCacheAcrossSessions(t *testing.T) {
	s, _ := newBoxStore(t)
	boxDeliver(t, s, "", "Subject: hello\nFrom: a@example.org\n\nbody\n")
	boxDeliver(t, s, "", "Subject: other\n\nbody\n")
	m1 := boxOpen(t, s, "INBOX")
	if got := summarySubject(t, m1, 1); got != "hello" {
		t.Fatalf("subject %q", got)
	}
	if sm, _ := m1.Summary(1); len(sm.Envelope.From) != 1 || sm.Envelope.From[0].Host != "example.org" {
		t.Fatalf("from %+v", sm.Envelope.From)
	}
	// A flag change renames the file but keeps its base name.
	if err := m1.StoreFlags([]uint32{1}, FlagsAdd, FlagSeen, nil); err != nil {
		t.Fatal(err)
	}
	path := m1.pathOf(&m1.recs[0])
	m1.Close() // flushes

	rewriteKeepingStamp(t, path, "hello", "HELLO")
	m2 := boxOpen(t, s, "INBOX")
	defer m2.Close()
	if got := summarySubject(t, m2, 1); got != "hello" {
		t.Fatalf("second session parsed the file again: subject %q", got)
	}
	// Stale: the mtime changed, so the file is parsed again.
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later)
	if got := summarySubject(t, m2, 1); got != "HELLO" {
		t.Fatalf("stale entry used: subject %q", got)
	}
	m2.Close()
	// The rebuilt entry is what the next session gets.
	rewriteKeepingStamp(t, path, "HELLO", "hallo")
	m3 := boxOpen(t, s, "INBOX")
	defer m3.Close()
	if got := summarySubject(t, m3, 1); got != "HELLO" {
		t.Fatalf("rebuilt entry not cached: subject %q", got)
	}
	if got := summarySubject(t, m3, 2); got != "other" {
		t.Fatalf("subject %q", got)
	}
	if _, err := m3.Summary(99); err == nil {
		t.Fatal("Summary of a missing UID succeeded")
	}
}

// Entries of expunged messages leave the cache file when the Mailbox
// closes; the others stay.
func TestSummaryForgetsExpunged(t *testing.T) {
	s, _ := newBoxStore(t)
	a := boxDeliver(t, s, "", "Subject: a\n\nx\n")
	b := boxDeliver(t, s, "", "Subject: b\n\nx\n")
	m := boxOpen(t, s, "INBOX")
	stamps := map[string]os.FileInfo{}
	for i, base := range []string{a.Base, b.Base} {
		summarySubject(t, m, uint32(i+1))
		st, err := os.Stat(m.pathOf(&m.recs[i]))
		if err != nil {
			t.Fatal(err)
		}
		stamps[base] = st
	}
	if _, err := m.Expunge([]uint32{1}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	c := openSummaryCache(m.dir)
	defer c.Close()
	if _, ok := c.Get(a.Base, stamps[a.Base].Size(), stamps[a.Base].ModTime()); ok {
		t.Error("expunged message still cached")
	}
	if sm, ok := c.Get(b.Base, stamps[b.Base].Size(), stamps[b.Base].ModTime()); !ok || sm.Envelope.Subject != "b" {
		t.Errorf("kept message: %v %v", sm, ok)
	}
}
