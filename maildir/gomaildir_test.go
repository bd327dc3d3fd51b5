package maildir_test

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gomaildir "github.com/emersion/go-maildir"

	"github.com/maildird/maildird/maildir"
)

// TestInteropWithGoMaildir checks maildird's files against an independent
// Maildir implementation, as external MDAs and tools see them: what it
// delivers (an external delivery, a message created with flags) maildird
// serves with those flags, and what maildird writes it reads back with
// maildird's flags and base names as keys.
func TestInteropWithGoMaildir(t *testing.T) {
	root := t.TempDir()
	s, err := maildir.Open(maildir.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Folders(alice); err != nil { // creates the user's INBOX
		t.Fatal(err)
	}
	inbox := gomaildir.Dir(filepath.Join(root, "example.org", "alice"))

	del, err := gomaildir.NewDelivery(string(inbox))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(del, "Subject: external\n\nfrom another MDA\n")
	if err := del.Close(); err != nil {
		t.Fatal(err)
	}
	_, w, err := inbox.Create([]gomaildir.Flag{gomaildir.FlagSeen, gomaildir.FlagReplied})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: flagged\n\nseen and replied\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	mb, err := s.OpenMailbox(alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs := mb.Messages()
	if len(msgs) != 2 {
		t.Fatalf("maildird sees %d messages, want 2", len(msgs))
	}
	var flags []maildir.Flag
	for _, m := range msgs {
		flags = append(flags, m.Flags)
		rc, err := mb.Open(m.UID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !strings.HasPrefix(string(b), "Subject: ") || !strings.Contains(string(b), "\r\n\r\n") {
			t.Errorf("message %d served as %q", m.UID, b)
		}
	}
	slices.Sort(flags)
	if !slices.Equal(flags, []maildir.Flag{0, maildir.FlagSeen | maildir.FlagAnswered}) {
		t.Errorf("flags %v", flags)
	}

	// maildird's own writes, read by go-maildir.
	res, err := s.Deliver(alice, "", strings.NewReader("Subject: ours\r\n\r\nbody\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Sync(); err != nil {
		t.Fatal(err)
	}
	uid := mb.At(mb.Len() - 1).UID
	if err := mb.StoreFlags([]uint32{uid}, maildir.FlagsAdd, maildir.FlagSeen|maildir.FlagFlagged, nil); err != nil {
		t.Fatal(err)
	}
	mb.Close()
	msg, err := inbox.MessageByKey(res.Base)
	if err != nil {
		t.Fatalf("go-maildir cannot find maildird's message by its base name: %v", err)
	}
	if got := msg.Flags(); !slices.Equal(got, []gomaildir.Flag{gomaildir.FlagFlagged, gomaildir.FlagSeen}) {
		t.Errorf("go-maildir reads flags %q", got)
	}
	rc, err := msg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "Subject: ours\n\nbody\n" {
		t.Errorf("stored bytes %q, want LF line ends", b)
	}
}
