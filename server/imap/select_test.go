package imap

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func (ts *testServer) rawLogin() *raw {
	r := ts.raw()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	return r
}

func TestSelectExamine(t *testing.T) {
	ts := newTestServer(t, nil)
	// Messages that arrive while INBOX is open are \Recent for the next
	// session to select it read-write (TestRecentFromNewAtFirstOpen has
	// those that waited in new/ before the first open).
	r0 := ts.rawLogin()
	r0.ok("EXAMINE INBOX")
	for i := 1; i <= 3; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	if out := r.do(`STORE 1 +FLAGS (\Seen)`); !strings.Contains(out[0], "BAD") {
		t.Fatalf("STORE before SELECT: %q", out)
	}
	out := r.ok("SELECT INBOX")
	for _, want := range []string{"* 3 EXISTS", "* 3 RECENT", "* OK [UNSEEN 1]", "* OK [UIDVALIDITY ", "* OK [UIDNEXT 4]",
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Forwarded)`, `* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Forwarded \*)]`, "OK [READ-WRITE]"} {
		if !hasLine(out, want) {
			t.Errorf("SELECT lacks %q: %q", want, out)
		}
	}
	if out := r.ok("FETCH 1 (FLAGS)"); !hasLine(out, `FLAGS (\Recent)`) {
		t.Errorf("\\Recent: %q", out)
	}
	// A second session is not the first to see them.
	r2 := ts.rawLogin()
	if out := r2.ok("SELECT INBOX"); !hasLine(out, "* 0 RECENT") {
		t.Errorf("second SELECT: %q", out)
	}
	out = r2.ok("EXAMINE INBOX")
	if !hasLine(out, "OK [CLOSED]") || !hasLine(out, "OK [READ-ONLY]") || !hasLine(out, "PERMANENTFLAGS ()") {
		t.Errorf("EXAMINE: %q", out)
	}
	for _, cmd := range []string{`STORE 1 +FLAGS (\Deleted)`, "MOVE 1 Trash", "UID EXPUNGE 1"} {
		if out := r2.do(cmd); !strings.Contains(out[len(out)-1], "NO [READ-ONLY]") {
			t.Errorf("%s in EXAMINE: %q", cmd, out)
		}
	}
	// FETCH BODY[] in EXAMINE does not set \Seen; in SELECT it does.
	r2.ok("FETCH 2 BODY[]")
	if out := r2.ok("FETCH 2 FLAGS"); hasLine(out, `\Seen`) {
		t.Errorf("EXAMINE set \\Seen: %q", out)
	}
	r2.ok("CLOSE")
	if out := r.ok("FETCH 2 BODY[TEXT]"); !hasLine(out, `FLAGS (\Seen \Recent)`) {
		t.Errorf("FETCH BODY[] did not report \\Seen: %q", out)
	}
	if out := r.do("SELECT nowhere"); !strings.Contains(out[len(out)-1], "NO [NONEXISTENT]") {
		t.Errorf("SELECT of a missing folder: %q", out)
	}
}

func TestFetchSets(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 5; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	r.ok("SELECT INBOX")
	out := r.ok("UID FETCH 3:* (UID)")
	if len(out) != 4 || !hasLine(out, "* 3 FETCH (UID 3)") || !hasLine(out, "* 5 FETCH (UID 5)") {
		t.Fatalf("UID FETCH 3:*: %q", out)
	}
	if out := r.ok("UID FETCH 900:* (UID)"); len(out) != 2 || out[0] != "* 5 FETCH (UID 5)" {
		t.Fatalf("UID FETCH 900:*: %q", out)
	}
	if out := r.ok("FETCH 4,2,2:3 (UID)"); len(out) != 4 {
		t.Fatalf("FETCH 4,2,2:3: %q", out)
	}
	if out := r.ok("SEARCH RETURN (SAVE) SUBJECT \"message 4\""); hasLine(out, "* SEARCH 4") {
		t.Logf("SEARCH RETURN (SAVE): %q", out)
	}
	if out := r.ok("FETCH $ (UID)"); len(out) != 2 || out[0] != "* 4 FETCH (UID 4)" {
		t.Fatalf("FETCH $: %q", out)
	}
	if out := r.ok("UID SEARCH RETURN (MIN MAX COUNT) ALL"); !strings.HasSuffix(out[0], " UID MIN 1 MAX 5 COUNT 5") {
		t.Fatalf("ESEARCH: %q", out)
	}
}

// TestRecentFromNewAtFirstOpen: mail delivered while no session had the
// folder open waits in new/; the first SELECT sees it as \Recent, as
// Dovecot does, and the next one does not.
func TestRecentFromNewAtFirstOpen(t *testing.T) {
	ts := newTestServer(t, nil)
	r0 := ts.rawLogin()
	r0.ok("SELECT INBOX")
	r0.ok("APPEND INBOX {" + strconv.Itoa(len(testMessage(1))) + "+}\r\n" + testMessage(1))
	r0.ok("LOGOUT")
	waitFor(t, 5*time.Second, "the folder to be released", func() bool { return ts.srv.boxes.lookup(testUser, "INBOX") == nil })
	for i := 2; i <= 3; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	out := r.ok("SELECT INBOX")
	if !hasLine(out, "* 3 EXISTS") || !hasLine(out, "* 2 RECENT") {
		t.Errorf("first SELECT after deliveries: %q", out)
	}
	if out := r.ok("FETCH 1:3 (FLAGS)"); !hasLine(out, "* 1 FETCH (FLAGS ())") || !hasLine(out, `* 3 FETCH (FLAGS (\Recent))`) {
		t.Errorf("flags: %q", out)
	}
	r2 := ts.rawLogin()
	if out := r2.ok("SELECT INBOX"); !hasLine(out, "* 0 RECENT") {
		t.Errorf("second SELECT: %q", out)
	}
}
