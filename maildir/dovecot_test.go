package maildir_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildird/maildird/internal/dovecottest"
	"github.com/maildird/maildird/maildir"
)

// These tests hold maildird to its promise of Dovecot compatibility: the
// same Maildir tree read by both servers gives the same UIDVALIDITY, UIDs,
// flags, keywords and folders, whichever of the two wrote it.

const (
	alice    = "alice@example.org"
	alicePwd = "alice-secret"
)

func startDovecot(t *testing.T) (*dovecottest.Server, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mail")
	d := dovecottest.Start(t, dovecottest.Options{MailRoot: root, Users: map[string]string{alice: alicePwd}})
	return d, root
}

func imapLogin(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(alice, alicePwd).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func testMessage(n int) string {
	return fmt.Sprintf("From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: test %d\r\nMessage-ID: <%d@example.net>\r\n\r\nHello number %d.\r\nA second line.\r\n", n, n, n)
}

func imapAppend(t *testing.T, c *imapclient.Client, mailbox, msg string, flags ...imap.Flag) imap.UID {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), &imap.AppendOptions{Flags: flags, Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	if _, err := io.WriteString(cmd, msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND to %s: %v", mailbox, err)
	}
	return data.UID
}

// imapState is what an IMAP client sees of one mailbox: UIDVALIDITY,
// UIDNEXT and "uid flag flag ..." per message, flags sorted.
type imapState struct {
	validity, next uint32
	messages       []string
}

func dovecotState(t *testing.T, c *imapclient.Client, mailbox string) imapState {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE %s: %v", mailbox, err)
	}
	st := imapState{validity: sel.UIDValidity, next: uint32(sel.UIDNext)}
	if sel.NumMessages > 0 {
		var all imap.SeqSet
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			t.Fatalf("FETCH %s: %v", mailbox, err)
		}
		for _, m := range msgs {
			var flags []string
			for _, f := range m.Flags {
				if f != `\Recent` {
					flags = append(flags, string(f))
				}
			}
			st.messages = append(st.messages, line(uint32(m.UID), flags))
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
	return st
}

func line(uid uint32, flags []string) string {
	slices.Sort(flags)
	return strings.TrimSpace(fmt.Sprintf("%d %s", uid, strings.Join(flags, " ")))
}

// imapFlags names maildir's flags as IMAP does.
func imapFlags(m maildir.Message) []string {
	var out []string
	for _, f := range []struct {
		bit  maildir.Flag
		name string
	}{
		{maildir.FlagSeen, `\Seen`}, {maildir.FlagAnswered, `\Answered`}, {maildir.FlagFlagged, `\Flagged`},
		{maildir.FlagDeleted, `\Deleted`}, {maildir.FlagDraft, `\Draft`}, {maildir.FlagForwarded, `$Forwarded`},
	} {
		if m.Flags&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return append(out, m.Keywords...)
}

func maildirState(t *testing.T, s *maildir.Store, folder string) imapState {
	t.Helper()
	mb, err := s.OpenMailbox(alice, folder)
	if err != nil {
		t.Fatalf("OpenMailbox %s: %v", folder, err)
	}
	defer mb.Close()
	st := imapState{validity: mb.UIDValidity(), next: mb.UIDNext()}
	for _, m := range mb.Messages() {
		st.messages = append(st.messages, line(m.UID, imapFlags(m)))
	}
	return st
}

func compareState(t *testing.T, folder string, got, want imapState) {
	t.Helper()
	if got.validity != want.validity || got.next != want.next {
		t.Errorf("%s: UIDVALIDITY %d UIDNEXT %d, want %d %d", folder, got.validity, got.next, want.validity, want.next)
	}
	if !slices.Equal(got.messages, want.messages) {
		t.Errorf("%s messages:\n got %q\nwant %q", folder, got.messages, want.messages)
	}
}

func openStore(t *testing.T, root string) *maildir.Store {
	t.Helper()
	s, err := maildir.Open(maildir.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadsWhatDovecotWrote: Dovecot builds a mailbox with flags,
// keywords, folders, subscriptions and an expunge; maildird reads it the
// same way.
func TestReadsWhatDovecotWrote(t *testing.T) {
	d, root := startDovecot(t)
	c := imapLogin(t, d.IMAPAddr)

	for _, name := range []string{"Family", "Family/Photos", "Über", "Work"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
	}
	for _, name := range []string{"Family/Photos", "Über"} {
		if err := c.Subscribe(name).Wait(); err != nil {
			t.Fatalf("SUBSCRIBE %s: %v", name, err)
		}
	}
	imapAppend(t, c, "INBOX", testMessage(1))
	imapAppend(t, c, "INBOX", testMessage(2), imap.FlagSeen)
	imapAppend(t, c, "INBOX", testMessage(3), imap.FlagFlagged, "$Important", "Work")
	imapAppend(t, c, "INBOX", testMessage(4), imap.FlagAnswered, imap.FlagSeen, imap.FlagDraft)
	imapAppend(t, c, "INBOX", testMessage(5), "Work")
	imapAppend(t, c, "Family/Photos", testMessage(6), imap.FlagSeen)
	imapAppend(t, c, "Über", testMessage(7))

	// Expunge message 2 by flagging it \Deleted in a read-write SELECT,
	// which also moves new/ files into cur/ as Dovecot does.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, root)
	for _, folder := range []string{"INBOX", "Family/Photos", "Über", "Work"} {
		want := dovecotState(t, c, folder)
		compareState(t, folder, maildirState(t, s, folder), want)
	}

	folders, err := s.Folders(alice)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range folders {
		name := f.Name
		if f.Subscribed {
			name += " (subscribed)"
		}
		got = append(got, name)
	}
	want := []string{"INBOX", "Family", "Family/Photos (subscribed)", "Work", "Über (subscribed)"}
	if !slices.Equal(got, want) {
		t.Errorf("folders %q, want %q", got, want)
	}
}

// TestDovecotReadsWhatMaildirdWrote: maildird delivers, appends, flags,
// sets keywords (one Dovecot already knows, one new) and expunges in a
// mailbox Dovecot started; Dovecot then reports exactly maildird's view.
func TestDovecotReadsWhatMaildirdWrote(t *testing.T) {
	d, root := startDovecot(t)
	c := imapLogin(t, d.IMAPAddr)
	imapAppend(t, c, "INBOX", testMessage(1), "Work")
	imapAppend(t, c, "INBOX", testMessage(2))
	if err := c.Create("Family", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, root)
	for i := 3; i <= 5; i++ {
		if _, err := s.Deliver(alice, "", strings.NewReader(testMessage(i)), 0); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	if _, err := s.Deliver(alice, "Family", strings.NewReader(testMessage(6)), 0); err != nil {
		t.Fatalf("Deliver to Family: %v", err)
	}
	mb, err := s.OpenMailbox(alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids := func() []uint32 {
		var out []uint32
		for _, m := range mb.Messages() {
			out = append(out, m.UID)
		}
		return out
	}
	if got := uids(); !slices.Equal(got, []uint32{1, 2, 3, 4, 5}) {
		t.Fatalf("maildird's UIDs %v, want 1..5 (Dovecot gave 1 and 2)", got)
	}
	if err := mb.StoreFlags([]uint32{1}, maildir.FlagsAdd, maildir.FlagSeen|maildir.FlagFlagged, []string{"Later"}); err != nil {
		t.Fatal(err)
	}
	if err := mb.StoreFlags([]uint32{3}, maildir.FlagsAdd, maildir.FlagAnswered, []string{"Work"}); err != nil {
		t.Fatal(err)
	}
	if err := mb.StoreFlags([]uint32{2, 4}, maildir.FlagsAdd, maildir.FlagDeleted, nil); err != nil {
		t.Fatal(err)
	}
	if gone, err := mb.Expunge(nil); err != nil || !slices.Equal(gone, []uint32{2, 4}) {
		t.Fatalf("Expunge = %v, %v; want [2 4]", gone, err)
	}
	uid, err := mb.Append(strings.NewReader(testMessage(7)), maildir.FlagSeen, []string{"$Important"}, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))
	if err != nil || uid != 6 {
		t.Fatalf("Append = %d, %v; want UID 6", uid, err)
	}
	mb.Close()
	want := map[string]imapState{}
	for _, folder := range []string{"INBOX", "Family"} {
		want[folder] = maildirState(t, s, folder)
	}
	d.ChownMailRoot(t)

	c = imapLogin(t, d.IMAPAddr)
	for _, folder := range []string{"INBOX", "Family"} {
		compareState(t, folder+" (seen by Dovecot)", dovecotState(t, c, folder), want[folder])
	}

	// Dovecot's copy of the appended message has maildird's bytes with
	// CRLF line ends, and its INTERNALDATE.
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	var set imap.UIDSet
	set.AddNum(6)
	msgs, err := c.Fetch(set, &imap.FetchOptions{InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH UID 6: %v %v", msgs, err)
	}
	body := msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true})
	if !bytes.Equal(body, []byte(testMessage(7))) || msgs[0].RFC822Size != int64(len(testMessage(7))) {
		t.Errorf("Dovecot sees body %q size %d", body, msgs[0].RFC822Size)
	}
	if !msgs[0].InternalDate.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("INTERNALDATE %v", msgs[0].InternalDate)
	}
	if _, err := os.Stat(filepath.Join(root, "example.org", "alice", "dovecot-keywords")); err != nil {
		t.Error(err)
	}
}
