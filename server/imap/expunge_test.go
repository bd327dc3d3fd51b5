package imap

import "testing"

func TestExpunge(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 5; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	r.ok("SELECT INBOX")
	r.ok(`STORE 1,2,4 +FLAGS.SILENT (\Deleted)`)
	// UID EXPUNGE removes only the \Deleted messages of its set.
	if out := r.ok("UID EXPUNGE 2:3"); len(out) != 2 || out[0] != "* 2 EXPUNGE" {
		t.Fatalf("UID EXPUNGE: %q", out)
	}
	if out := r.ok("EXPUNGE"); len(out) != 3 || out[0] != "* 1 EXPUNGE" || out[1] != "* 2 EXPUNGE" {
		t.Fatalf("EXPUNGE: %q", out)
	}
	if out := r.ok("UID SEARCH ALL"); out[0] != "* SEARCH 3 5" {
		t.Fatalf("left: %q", out)
	}
	// CLOSE expunges silently.
	r.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	if out := r.ok("CLOSE"); len(out) != 1 {
		t.Fatalf("CLOSE: %q", out)
	}
	r.ok("SELECT INBOX")
	if out := r.ok("UID SEARCH ALL"); out[0] != "* SEARCH 5" {
		t.Fatalf("after CLOSE: %q", out)
	}
}
