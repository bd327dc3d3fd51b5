package imap

import (
	"slices"
	"strings"
	"testing"
)

func TestFolders(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.rawLogin()
	r.ok("CREATE Family/Photos/")
	r.ok("CREATE Family/Letters")
	if out := r.do("CREATE Family/Letters"); !strings.Contains(out[len(out)-1], "NO [ALREADYEXISTS]") {
		t.Fatalf("CREATE twice: %q", out)
	}
	if out := r.do("CREATE inbox"); !strings.Contains(out[len(out)-1], "NO [ALREADYEXISTS]") {
		t.Fatalf("CREATE inbox: %q", out)
	}
	if out := r.do("CREATE a.b"); !strings.Contains(out[len(out)-1], "NO") {
		t.Fatalf("CREATE with a dot: %q", out)
	}
	out := r.ok(`LIST "" "Family*"`)
	want := []string{`* LIST (\Noselect \HasChildren) "/" Family`, `* LIST (\HasNoChildren) "/" Family/Letters`, `* LIST (\HasNoChildren) "/" Family/Photos`}
	if !slices.Equal(out[:3], want) {
		t.Fatalf("LIST Family*: %q", out)
	}
	if out := r.ok(`LIST "Family/" "%"`); len(out) != 3 {
		t.Fatalf("LIST with a reference: %q", out)
	}
	if out := r.ok(`LIST "" ""`); out[0] != `* LIST (\Noselect) "/" ""` {
		t.Fatalf("LIST \"\" \"\": %q", out)
	}
	if out := r.ok(`LIST "" "inbox"`); out[0] != `* LIST (\HasNoChildren) "/" INBOX` {
		t.Fatalf("LIST inbox: %q", out)
	}
	r.ok("RENAME Family Kin")
	if out := r.ok(`LIST "" "*"`); hasLine(out, `Family`) || !hasLine(out, ` Kin/Photos`) {
		t.Fatalf("after RENAME: %q", out)
	}
	r.ok("SUBSCRIBE Kin/Photos")
	if out := r.ok(`LSUB "" "Kin/*"`); out[0] != `* LSUB () "/" Kin/Photos` {
		t.Fatalf("LSUB: %q", out)
	}
	r.ok("DELETE Kin/Photos")
	if out := r.ok(`LIST (SUBSCRIBED) "" "Kin/*"`); !hasLine(out, `* LIST (\Subscribed \NonExistent) "/" Kin/Photos`) {
		t.Fatalf("subscription of a deleted folder: %q", out)
	}
	if out := r.do("DELETE INBOX"); !strings.Contains(out[len(out)-1], "NO") {
		t.Fatalf("DELETE INBOX: %q", out)
	}
	if out := r.ok(`LIST (SPECIAL-USE) "" "*"`); len(out) != 6 || hasLine(out, "INBOX") {
		t.Fatalf("LIST (SPECIAL-USE): %q", out)
	}
	ts.deliver("", testMessage(1))
	if out := r.ok(`LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN SIZE))`); !strings.HasPrefix(out[1], "* STATUS INBOX (MESSAGES 1 UNSEEN 1 SIZE ") {
		t.Fatalf("LIST-STATUS: %q", out)
	}
	if out := r.ok("NAMESPACE"); out[0] != `* NAMESPACE (("" "/")) NIL NIL` {
		t.Fatalf("NAMESPACE: %q", out)
	}
	// CREATE-SPECIAL-USE: the role must be the name's.
	if out := r.do(`CREATE Outbox (USE (\Sent))`); !strings.Contains(out[len(out)-1], "NO [USEATTR]") {
		t.Fatalf("CREATE with a foreign role: %q", out)
	}
	if out := r.ok(`LIST "" "Outbox"`); len(out) != 1 {
		t.Fatalf("refused CREATE left a folder: %q", out)
	}
}

func TestStatus(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 3; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	r.ok("SELECT INBOX")
	r.ok(`STORE 1 +FLAGS.SILENT (\Seen \Deleted)`)
	out := r.ok("STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED SIZE APPENDLIMIT)")
	size := 0
	for i := 1; i <= 3; i++ {
		size += len(testMessage(i))
	}
	if !strings.HasPrefix(out[0], "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UNSEEN 2 DELETED 1 SIZE ") || !strings.Contains(out[0], "APPENDLIMIT 26214400") {
		t.Fatalf("STATUS: %q", out)
	}
	if out := r.do("STATUS Nowhere (MESSAGES)"); !strings.Contains(out[len(out)-1], "NO [NONEXISTENT]") {
		t.Fatalf("STATUS of a missing folder: %q", out)
	}
}
