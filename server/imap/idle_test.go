package imap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// updates collects a client's unsolicited responses.
type updates struct {
	mu      sync.Mutex
	exists  []uint32
	expunge []uint32
	flags   map[uint32][]goimap.Flag
	ch      chan struct{}
}

func newUpdates() *updates {
	return &updates{flags: map[uint32][]goimap.Flag{}, ch: make(chan struct{}, 100)}
}

func (u *updates) options() *imapclient.Options {
	return &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			u.mu.Lock()
			if d.NumMessages != nil {
				u.exists = append(u.exists, *d.NumMessages)
			}
			u.mu.Unlock()
			u.ch <- struct{}{}
		},
		Expunge: func(seq uint32) {
			u.mu.Lock()
			u.expunge = append(u.expunge, seq)
			u.mu.Unlock()
			u.ch <- struct{}{}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, _ := msg.Collect()
			u.mu.Lock()
			if buf != nil {
				u.flags[msg.SeqNum] = buf.Flags
			}
			u.mu.Unlock()
			u.ch <- struct{}{}
		},
	}}
}

func (u *updates) lastExists() uint32 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.exists) == 0 {
		return 0
	}
	return u.exists[len(u.exists)-1]
}

func (u *updates) expunges() []uint32 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]uint32(nil), u.expunge...)
}

func (u *updates) flagsOf(seq uint32) []goimap.Flag {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.flags[seq]
}

// idleClient logs in, selects INBOX and starts IDLE.
func (ts *testServer) idleClient(u *updates) (*imapclient.Client, *imapclient.IdleCommand) {
	ts.t.Helper()
	c := ts.clientWith(u.options())
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		ts.t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		ts.t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		ts.t.Fatal(err)
	}
	return c, idle
}

// IDLE reports new mail within 2 seconds whether it comes from SMTP
// delivery, another IMAP session's APPEND, or a file another program drops
// into new/.
func TestIdleNewMail(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	u := newUpdates()
	_, idle := ts.idleClient(u)
	defer idle.Close()

	check := func(what string, want uint32) {
		t.Helper()
		start := time.Now()
		waitFor(t, 2*time.Second, what, func() bool { return u.lastExists() == want })
		t.Logf("%s seen after %v", what, time.Since(start))
	}
	ts.deliver("", testMessage(2))
	check("SMTP delivery", 2)

	other := ts.login()
	cmd := other.Append("INBOX", int64(len(testMessage(3))), nil)
	cmd.Write([]byte(testMessage(3)))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	check("APPEND from another session", 3)

	dir := filepath.Join(ts.root, "example.org", "alice", "new")
	if err := os.WriteFile(filepath.Join(dir, "1700000000.M1P1.otherprogram"), []byte(testMessage(4)), 0o600); err != nil {
		t.Fatal(err)
	}
	check("file dropped into new/", 4)
}

// Two sessions on one mailbox see each other's flag changes, expunges and
// new messages, with sequence numbers that stay right for each.
func TestTwoSessions(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 5; i++ {
		ts.deliver("", testMessage(i))
	}
	a := ts.raw()
	a.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	a.ok("SELECT INBOX")
	b := ts.raw()
	b.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	b.ok("SELECT INBOX")

	// b flags message 2 silently; a learns it at its next command.
	if out := b.ok(`STORE 2 +FLAGS.SILENT (\Flagged)`); len(out) != 1 {
		t.Fatalf("silent STORE answered %q", out)
	}
	if out := a.ok("NOOP"); !hasLine(out, `* 2 FETCH (UID 2 FLAGS (\Flagged))`) {
		t.Fatalf("a after b's STORE: %q", out)
	}
	// b deletes and expunges 2 and 4: b gets EXPUNGE 2 and 3 (4 moved
	// down after 2 went). a gets them too, but not during FETCH, where its
	// sequence numbers stay as they were.
	b.ok(`STORE 2,4 +FLAGS.SILENT (\Deleted)`)
	if out := b.ok("EXPUNGE"); !slices.Equal(out[:2], []string{"* 2 EXPUNGE", "* 3 EXPUNGE"}) {
		t.Fatalf("b's EXPUNGE: %q", out)
	}
	out := a.ok("FETCH 5 (UID)")
	if hasLine(out, "EXPUNGE") || !hasLine(out, "* 5 FETCH (UID 5)") {
		t.Fatalf("a's FETCH 5 after b's expunge: %q", out)
	}
	if out := a.ok("NOOP"); !hasLine(out, "* 2 EXPUNGE") || !hasLine(out, "* 3 EXPUNGE") {
		t.Fatalf("a's NOOP: %q", out)
	}
	if out := a.ok("FETCH 1:* (UID)"); !slices.Equal(out[:3], []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 5)"}) {
		t.Fatalf("a's view: %q", out)
	}

	// New mail reaches both; "*" is the last message each knows.
	ts.deliver("", testMessage(6))
	if out := a.ok("FETCH * (UID)"); !slices.Equal(out[:2], []string{"* 3 FETCH (UID 5)", "* 4 EXISTS"}) {
		t.Fatalf("FETCH * after a delivery: %q", out)
	}
	if out := a.ok("UID FETCH * (FLAGS)"); !hasLine(out, "* 4 FETCH (UID 6 FLAGS (") {
		t.Fatalf("UID FETCH *: %q", out)
	}
	// b has not been told of 6 yet: its SEARCH leaves it out.
	if out := b.ok("UID SEARCH ALL"); !slices.Equal(out[:2], []string{"* SEARCH 1 3 5", "* 4 EXISTS"}) {
		t.Fatalf("b's SEARCH: %q", out)
	}
	if out := b.ok("UID SEARCH ALL"); out[0] != "* SEARCH 1 3 5 6" {
		t.Fatalf("b's second SEARCH: %q", out)
	}
}

func containsFlag(list []goimap.Flag, f goimap.Flag) bool {
	for _, x := range list {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

// An IDLE client gets EXPUNGE and FETCH FLAGS from another session at once.
func TestIdleSeesOtherSession(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 3; i++ {
		ts.deliver("", testMessage(i))
	}
	u := newUpdates()
	_, idle := ts.idleClient(u)
	defer idle.Close()
	b, _ := ts.selectBox("INBOX")
	if err := b.Store(goimap.SeqSetNum(3), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "FETCH FLAGS", func() bool { return containsFlag(u.flagsOf(3), goimap.FlagSeen) })
	if err := b.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "EXPUNGE", func() bool { return len(u.expunges()) == 1 && u.expunges()[0] == 1 })
}
