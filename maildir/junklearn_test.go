package maildir

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func junkMsg(from, subject string) string {
	return "Return-Path: <bounces@list.example>\r\nFrom: " + from + "\r\nTo: alice@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
}

func deliverTo(t *testing.T, s *Store, msg string, rcpts ...string) {
	t.Helper()
	d, err := s.NewDelivery(0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(d, msg)
	for _, r := range rcpts {
		if err := d.AddRecipient(r, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
}

// subjects lists the Subject lines of a folder's messages, and whether
// each carries the $Junk keyword and the X-Spam-Status header.
func subjects(t *testing.T, s *Store, addr, folder string) []string {
	t.Helper()
	mb, err := s.OpenMailbox(addr, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	var out []string
	for _, m := range mb.Messages() {
		rc, err := mb.Open(m.UID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		text := string(b)
		subj := text[strings.Index(text, "Subject: ")+9:]
		subj = subj[:strings.Index(subj, "\r\n")]
		if slices.Contains(m.Keywords, "$Junk") {
			subj += " $Junk"
		}
		if strings.HasPrefix(text, "X-Spam-Status: Yes\r\n") {
			subj += " X-Spam"
		}
		out = append(out, subj)
	}
	return out
}

func TestSpamButtonTeachesAndDeliveryFollows(t *testing.T) {
	s := newJunkStore(t)
	const alice, bob = "alice@example.org", "bob@example.org"
	deliverTo(t, s, junkMsg("Spammer <Spammer@Spam.example>", "one"), alice, bob)

	// Alice presses Spam: the message moves to Junk.
	if _, err := s.SpecialFolder(alice, UseJunk); err != nil {
		t.Fatal(err)
	}
	inbox, err := s.OpenMailbox(alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := inbox.MoveTo([]uint32{inbox.At(0).UID}, "Junk"); err != nil {
		t.Fatal(err)
	}
	inbox.Close()
	if e, _ := s.JunkEntries(alice, Blocklist); !slices.Equal(e, []string{"spammer@spam.example"}) {
		t.Fatalf("alice's blocklist %q", e)
	}

	// The next message from that sender: Junk for alice, INBOX for bob.
	deliverTo(t, s, junkMsg("spammer@spam.example", "two"), alice, bob)
	if got := subjects(t, s, alice, "Junk"); !slices.Equal(got, []string{"one", "two $Junk X-Spam"}) {
		t.Errorf("alice's Junk %q", got)
	}
	if got := subjects(t, s, alice, "INBOX"); len(got) != 0 {
		t.Errorf("alice's INBOX %q", got)
	}
	if got := subjects(t, s, bob, "INBOX"); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("bob's INBOX %q", got)
	}

	// Alice moves it back: the sender is allowed again.
	junk, err := s.OpenMailbox(alice, "Junk")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := junk.MoveTo([]uint32{junk.At(1).UID}, "INBOX"); err != nil {
		t.Fatal(err)
	}
	junk.Close()
	block, _ := s.JunkEntries(alice, Blocklist)
	allow, _ := s.JunkEntries(alice, Allowlist)
	if len(block) != 0 || !slices.Equal(allow, []string{"spammer@spam.example"}) {
		t.Fatalf("after moving back: block %q allow %q", block, allow)
	}
	deliverTo(t, s, junkMsg("spammer@spam.example", "three"), alice)
	if got := subjects(t, s, alice, "INBOX"); !slices.Equal(got, []string{"two $Junk X-Spam", "three"}) {
		t.Errorf("alice's INBOX at the end %q", got)
	}
}

func TestJunkKeywordsTeach(t *testing.T) {
	s := newJunkStore(t)
	const alice = "alice@example.org"
	deliverTo(t, s, junkMsg("a@one.example", "a"), alice)
	deliverTo(t, s, "Return-Path: <b@two.example>\r\nSubject: no from\r\n\r\nx\r\n", alice)
	mb, err := s.OpenMailbox(alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	uids := []uint32{mb.At(0).UID, mb.At(1).UID}
	if err := mb.StoreFlags(uids, FlagsAdd, 0, []string{"$Junk"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.JunkEntries(alice, Blocklist); !slices.Equal(e, []string{"a@one.example", "b@two.example"}) {
		t.Errorf("blocklist after $Junk %q (the second by Return-Path)", e)
	}
	if err := mb.StoreFlags(uids[:1], FlagsAdd, 0, []string{"$NotJunk"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.JunkEntries(alice, Allowlist); !slices.Equal(e, []string{"a@one.example"}) {
		t.Errorf("allowlist after $NotJunk %q", e)
	}
	// Removing a keyword teaches nothing; copying within INBOX neither.
	if err := mb.StoreFlags(uids[1:], FlagsRemove, 0, []string{"$Junk"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.JunkEntries(alice, Blocklist); !slices.Equal(e, []string{"b@two.example"}) {
		t.Errorf("blocklist changed by a removal: %q", e)
	}
}

func TestMessageSenders(t *testing.T) {
	cases := []struct{ msg, from, rp string }{
		{"From: Bob <Bob@Example.NET>\r\nReturn-Path: <x@y.example>\r\n\r\nbody", "bob@example.net", "x@y.example"},
		{"From: bob@example.net\n\nLF only", "bob@example.net", ""},
		{"From: \"Broken <bob@example.net>\r\n\r\n", "bob@example.net", ""},
		{"From: no address here\r\nReturn-Path: <>\r\n\r\n", "", ""},
		{"Subject: no header end", "", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		if from, rp := messageSenders(strings.NewReader(c.msg)); from != c.from || rp != c.rp {
			t.Errorf("messageSenders(%q) = %q, %q; want %q, %q", c.msg, from, rp, c.from, c.rp)
		}
	}
}

// TestAppendTeaches: clients that move by APPEND and EXPUNGE (mbsync)
// teach the lists too, and an ordinary APPEND to INBOX teaches nothing.
func TestAppendTeaches(t *testing.T) {
	s := newJunkStore(t)
	const alice = "alice@example.org"
	if _, err := s.SpecialFolder(alice, UseJunk); err != nil {
		t.Fatal(err)
	}
	junk, err := s.OpenMailbox(alice, "Junk")
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	if _, err := junk.Append(strings.NewReader(junkMsg("x@bad.example", "a")), 0, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.JunkEntries(alice, Blocklist); !slices.Equal(e, []string{"x@bad.example"}) {
		t.Fatalf("blocklist after APPEND to Junk %q", e)
	}
	inbox, err := s.OpenMailbox(alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer inbox.Close()
	inbox.Append(strings.NewReader(junkMsg("y@fine.example", "b")), 0, nil, time.Time{})
	if e, _ := s.JunkEntries(alice, Allowlist); len(e) != 0 {
		t.Fatalf("an ordinary APPEND allowlisted %q", e)
	}
	inbox.Append(strings.NewReader("X-Spam-Status: Yes\r\n"+junkMsg("x@bad.example", "c")), 0, nil, time.Time{})
	block, _ := s.JunkEntries(alice, Blocklist)
	allow, _ := s.JunkEntries(alice, Allowlist)
	if len(block) != 0 || !slices.Equal(allow, []string{"x@bad.example"}) {
		t.Errorf("after moving a marked message back by APPEND: block %q allow %q", block, allow)
	}
}

// TestJunkListsUnderConcurrentMovesAndDeliveries: Spam-button moves in
// several sessions, deliveries reading the lists and direct edits all at
// once leave a well-formed list holding every lesson.
func TestJunkListsUnderConcurrentMovesAndDeliveries(t *testing.T) {
	s := newJunkStore(t)
	const alice = "alice@example.org"
	if _, err := s.SpecialFolder(alice, UseJunk); err != nil {
		t.Fatal(err)
	}
	const senders = 12
	for i := range senders {
		deliverTo(t, s, junkMsg(fmt.Sprintf("s%d@spam.example", i), "x"), alice)
	}
	var wg sync.WaitGroup
	for w := range 3 { // three sessions, each moving its share to Junk
		wg.Add(1)
		go func() {
			defer wg.Done()
			mb, err := s.OpenMailbox(alice, "INBOX")
			if err != nil {
				t.Error(err)
				return
			}
			defer mb.Close()
			for i := w; i < senders; i += 3 {
				for _, m := range mb.Messages() {
					if mb.senderOf(m.UID) == fmt.Sprintf("s%d@spam.example", i) {
						if _, _, _, err := mb.MoveTo([]uint32{m.UID}, "Junk"); err != nil {
							t.Error(err)
						}
					}
				}
			}
		}()
	}
	wg.Add(2)
	go func() { // deliveries consulting the lists
		defer wg.Done()
		for i := range 20 {
			deliverTo(t, s, junkMsg(fmt.Sprintf("other%d@fine.example", i), "y"), alice)
		}
	}()
	go func() { // the junk command editing at the same time
		defer wg.Done()
		for i := range 20 {
			s.AddJunkEntry(alice, Allowlist, fmt.Sprintf("friend%d@fine.example", i))
		}
	}()
	wg.Wait()
	block, _ := s.JunkEntries(alice, Blocklist)
	allow, _ := s.JunkEntries(alice, Allowlist)
	if len(block) != senders || len(allow) != 20 {
		t.Errorf("%d blocked (want %d) and %d allowed (want 20)", len(block), senders, len(allow))
	}
	if got := subjects(t, s, alice, "INBOX"); len(got) != 20 {
		t.Errorf("INBOX holds %d messages, want the 20 other deliveries", len(got))
	}
}
