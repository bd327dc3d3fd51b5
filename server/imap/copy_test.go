package imap

import (
	"strings"
	"testing"
)

func TestCopyMove(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 4; i++ {
		ts.deliver("", testMessage(i))
	}
	r := ts.rawLogin()
	out := r.ok("STATUS Archive (UIDVALIDITY)")
	validity := strings.Fields(strings.TrimSuffix(out[0], ")"))[4]
	r.ok("SELECT INBOX")
	r.ok(`STORE 2 +FLAGS.SILENT (\Flagged)`)
	if out := r.ok("COPY 2:3 Archive"); !strings.Contains(out[len(out)-1], " OK [COPYUID "+validity+" 2:3 1:2]") {
		t.Fatalf("COPY: %q", out)
	}
	if out := r.do("COPY 1 Nowhere"); !strings.Contains(out[len(out)-1], "NO [TRYCREATE]") {
		t.Fatalf("COPY to a missing folder: %q", out)
	}
	out = r.ok("UID MOVE 1,4 Archive")
	if len(out) != 4 || !strings.HasPrefix(out[0], "* OK [COPYUID "+validity+" 1,4 3:4]") || out[1] != "* 1 EXPUNGE" || out[2] != "* 3 EXPUNGE" {
		t.Fatalf("MOVE: %q", out)
	}
	if out := r.do("MOVE 1 INBOX"); !strings.Contains(out[len(out)-1], "NO") {
		t.Fatalf("MOVE into itself: %q", out)
	}
	r.ok("SELECT Archive")
	if out := r.ok("UID FETCH 1:* (FLAGS)"); len(out) != 5 || !hasLine(out, `UID 1 FLAGS (\Flagged`) {
		t.Fatalf("Archive: %q", out)
	}
}
