package imap

import (
	"fmt"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.MaxMessageSize = 1000 })
	r := ts.rawLogin()
	msg := testMessage(1)
	r.send(fmt.Sprintf(`a1 APPEND Drafts (\Draft \Seen kw) "05-Mar-2024 10:00:00 +0100" {%d}`, len(msg)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation: %q", l)
	}
	r.send(msg)
	if l := r.line(); !strings.HasPrefix(l, "a1 OK [APPENDUID ") || !strings.Contains(l, " 1]") {
		t.Fatalf("APPEND: %q", l)
	}
	r.ok("SELECT Drafts")
	out := r.ok("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
	if !hasLine(out, `FLAGS (\Seen \Draft kw`) || !hasLine(out, `INTERNALDATE "05-Mar-2024 09:00:00 +0000"`) {
		t.Fatalf("appended message: %q", out)
	}
	if !hasLine(out, fmt.Sprintf("RFC822.SIZE %d", len(msg))) {
		t.Fatalf("size: %q", out)
	}
	// Over APPENDLIMIT: refused before the literal is sent.
	r.send("a2 APPEND INBOX {5000}")
	if l := r.line(); !strings.HasPrefix(l, "a2 NO [TOOBIG]") {
		t.Fatalf("over the limit: %q", l)
	}
	// A missing folder: TRYCREATE.
	r.send("a3 APPEND Nowhere {5}")
	r.line()
	r.send("hello")
	if l := r.line(); !strings.HasPrefix(l, "a3 NO [TRYCREATE]") {
		t.Fatalf("missing folder: %q", l)
	}
	// The selected folder learns of an APPEND to it.
	r.send(fmt.Sprintf("a4 APPEND Drafts {%d}", len(msg)))
	r.line()
	r.send(msg)
	if l := r.line(); l != "* 2 EXISTS" {
		t.Fatalf("EXISTS after APPEND: %q", l)
	}
}
