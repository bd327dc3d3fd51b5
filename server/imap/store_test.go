package imap

import "testing"

func TestStore(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 3; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	r.ok("ENABLE IMAP4rev2")
	r.ok("SELECT INBOX")
	if out := r.ok(`STORE 1:2 +FLAGS (\Flagged $Forwarded work)`); !hasLine(out, `* 1 FETCH (FLAGS (\Flagged $Forwarded work))`) || !hasLine(out, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Forwarded work)`) {
		t.Fatalf("STORE +FLAGS: %q", out)
	}
	if out := r.ok(`UID STORE 2 -FLAGS (work)`); !hasLine(out, `* 2 FETCH (UID 2 FLAGS (\Flagged $Forwarded))`) {
		t.Fatalf("UID STORE -FLAGS: %q", out)
	}
	if out := r.ok(`STORE 3 FLAGS.SILENT (\Answered \Recent)`); len(out) != 1 {
		t.Fatalf("STORE FLAGS.SILENT: %q", out)
	}
	if out := r.ok(`FETCH 3 FLAGS`); out[0] != `* 3 FETCH (FLAGS (\Answered))` {
		t.Fatalf("after FLAGS.SILENT: %q", out)
	}
	if out := r.do(`STORE 1 +FLAGS (\Bogus)`); !hasLine(out, "BAD") {
		t.Fatalf("unknown system flag: %q", out)
	}
	// The flags are on disk: a new session sees them.
	r2 := ts.rawLogin()
	r2.ok("SELECT INBOX")
	if out := r2.ok("FETCH 1:3 FLAGS"); !hasLine(out, `* 2 FETCH (FLAGS (\Flagged $Forwarded))`) {
		t.Fatalf("second session: %q", out)
	}
}
