package maildir_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// TestDovecotKeepsUsingWhatRootWrote: maildird running as root writes into
// a Maildir that belongs to the mail user (deliveries, an append, flags and
// a new keyword, a folder, a subscription, the quota file, its own caches),
// and Dovecot, which accesses mail as that user, then reads and changes all
// of it over IMAP without anyone fixing ownership in between. As a normal
// user the same steps must simply work.
func TestDovecotKeepsUsingWhatRootWrote(t *testing.T) {
	d, root := startDovecot(t)
	c := imapLogin(t, d.IMAPAddr)
	imapAppend(t, c, "INBOX", testMessage(1)) // Dovecot creates the Maildir
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	d.ChownMailRoot(t) // the only chown: before maildird writes

	s := openStore(t, root)
	for i := 2; i <= 3; i++ {
		if _, err := s.Deliver(alice, "", strings.NewReader(testMessage(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	dl, err := s.NewDelivery(0)
	if err != nil {
		t.Fatal(err)
	}
	dl.Write([]byte(testMessage(4)))
	if err := dl.AddRecipient(alice, ""); err != nil {
		t.Fatal(err)
	}
	if err := dl.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFolder(alice, "Family"); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(alice, "Family"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(alice, "Family", strings.NewReader(testMessage(5)), 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Usage(alice); err != nil { // writes maildirsize
		t.Fatal(err)
	}
	mb, err := s.OpenMailbox(alice, "INBOX") // moves new/ to cur/, rewrites the uidlist
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Append(strings.NewReader(testMessage(6)), maildir.FlagSeen, []string{"Work"}, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := mb.StoreFlags([]uint32{2}, maildir.FlagsAdd, maildir.FlagFlagged, []string{"Later"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := mb.CopyTo([]uint32{1}, "Family"); err != nil {
		t.Fatal(err)
	}
	for _, m := range mb.Messages() {
		if _, err := mb.Summary(m.UID); err != nil { // the summary cache
			t.Fatal(err)
		}
	}
	mb.Close()

	if os.Geteuid() == 0 {
		userRoot := filepath.Join(root, "example.org", "alice")
		var wrong []string
		filepath.WalkDir(userRoot, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(path, &st); err != nil {
				return err
			}
			if int(st.Uid) != d.MailUID || int(st.Gid) != d.MailGID {
				rel, _ := filepath.Rel(userRoot, path)
				wrong = append(wrong, rel)
			}
			return nil
		})
		if len(wrong) > 0 {
			t.Errorf("not owned by the mail user %d:%d: %q", d.MailUID, d.MailGID, wrong)
		}
		if _, err := os.Stat(filepath.Join(userRoot, "maildird-cache")); err != nil {
			t.Errorf("no summary cache to check: %v", err)
		}
	}

	// Dovecot reads everything and changes it: no chown since maildird wrote.
	c = imapLogin(t, d.IMAPAddr)
	want := []string{testMessage(1), testMessage(2), testMessage(3), testMessage(4), testMessage(6)}
	for _, folder := range []string{"INBOX", "Family"} {
		if _, err := c.Select(folder, nil).Wait(); err != nil {
			t.Fatalf("SELECT %s: %v", folder, err)
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
		if err != nil {
			t.Fatalf("FETCH %s: %v", folder, err)
		}
		var bodies []string
		for _, m := range msgs {
			bodies = append(bodies, string(m.FindBodySection(&imap.FetchItemBodySection{})))
		}
		if folder == "INBOX" && !slices.Equal(bodies, want) {
			t.Errorf("INBOX bodies as Dovecot reads them:\n%q\nwant\n%q", bodies, want)
		}
		if folder == "Family" && len(bodies) != 2 {
			t.Errorf("Family: %d messages", len(bodies))
		}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagAnswered, "Later", "Dovecot"}, Silent: true}, nil).Close(); err != nil {
			t.Fatalf("STORE in %s: %v", folder, err)
		}
		if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatalf("EXPUNGE in %s: %v", folder, err)
		}
		if err := c.Unselect().Wait(); err != nil {
			t.Fatal(err)
		}
		imapAppend(t, c, folder, testMessage(7), imap.FlagSeen, "Work")
	}
	if err := c.Subscribe("INBOX").Wait(); err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range subs {
		names = append(names, l.Mailbox)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Family", "INBOX"}) {
		t.Errorf("subscribed %q", names)
	}

	// And both servers still agree.
	for _, folder := range []string{"INBOX", "Family"} {
		compareState(t, folder, maildirState(t, s, folder), dovecotState(t, c, folder))
	}
}
