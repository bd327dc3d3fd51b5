package imap

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// TestFlushConnCloseWaitsForAFlushUnderWay: Close while the timer's flush
// holds the connection must still deliver what was written (the BYE and
// tagged OK of LOGOUT), not close under it.
func TestFlushConnCloseWaitsForAFlushUnderWay(t *testing.T) {
	server, client := net.Pipe()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- string(b)
	}()
	f := newFlushConn(server)
	if _, err := f.Write([]byte("* BYE Logging out\r\na1 OK LOGOUT completed\r\n")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock() // as the timer's flush does
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	time.Sleep(50 * time.Millisecond)
	f.mu.Unlock()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case s := <-got:
		if s != "* BYE Logging out\r\na1 OK LOGOUT completed\r\n" {
			t.Errorf("the client got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client saw no end of the connection")
	}
}

// TestFlushConnCloseIsBoundedWhenTheClientStopsReading: a client that
// never reads cannot hold Close up for long.
func TestFlushConnCloseIsBoundedWhenTheClientStopsReading(t *testing.T) {
	server, client := net.Pipe() // nobody reads client
	defer client.Close()
	f := newFlushConn(server)
	f.Write([]byte("pending\r\n"))
	start := time.Now()
	f.Close()
	if d := time.Since(start); d > closeFlushTimeout+2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// TestFlushConnOneLinePerRead: however the client's bytes arrive, each
// Read hands over at most one line, and the command is recorded when its
// line is complete.
func TestFlushConnOneLinePerRead(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	f := newFlushConn(server)
	defer f.Close()
	go func() {
		io.WriteString(client, "a NOOP\r\nb LOGIN x y\r\nc FETCH 1 (FLAGS)\n") // one write: the rest is stashed
		io.WriteString(client, "d FETCH 1 (FL")
		io.WriteString(client, "AGS UID)\r\n")
	}()
	buf := make([]byte, 4096)
	for _, want := range []struct{ read, cmd string }{
		{"a NOOP\r\n", "a NOOP"},
		{"b LOGIN x y\r\n", "b LOGIN x y"},
		{"c FETCH 1 (FLAGS)\n", "c FETCH 1 (FLAGS)"},
		{"d FETCH 1 (FL", ""},
		{"AGS UID)\r\n", "d FETCH 1 (FLAGS UID)"},
	} {
		n, err := f.Read(buf)
		if err != nil || string(buf[:n]) != want.read {
			t.Fatalf("Read = %q, %v; want %q", buf[:n], err, want.read)
		}
		if cmd, ok := f.lastCommand(); cmd != want.cmd || ok != (want.cmd != "") {
			t.Fatalf("after %q: lastCommand = %q, %v; want %q", want.read, cmd, ok, want.cmd)
		}
	}
	if f.stash != nil || f.cur != nil {
		t.Errorf("an idle connection holds %d stashed and %d command bytes", cap(f.stash), cap(f.cur))
	}
}

// fetchRecorder makes ts's sessions report, for every FETCH they run,
// the command commandOf gives ("-" when unavailable).
func (ts *testServer) fetchRecorder() <-chan string {
	ch := make(chan string, 100)
	ts.srv.mu.Lock()
	ts.srv.wrapSession = func(s *session) imapserver.Session { return recordingSession{s, ch} }
	ts.srv.mu.Unlock()
	return ch
}

type recordingSession struct {
	*session
	fetches chan<- string
}

func (r recordingSession) Fetch(w *imapserver.FetchWriter, numSet goimap.NumSet, options *goimap.FetchOptions) error {
	cmd, ok := commandOf(r.conn)
	if !ok {
		cmd = "-"
	}
	r.fetches <- cmd
	return r.session.Fetch(w, numSet, options)
}

// recorded takes n commands from ch.
func recorded(t *testing.T, ch <-chan string, n int) []string {
	t.Helper()
	var got []string
	for range n {
		select {
		case c := <-ch:
			got = append(got, c)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d FETCH commands ran: %q", len(got), got)
		}
	}
	select {
	case c := <-ch:
		t.Fatalf("more FETCH commands than %d: %q then %q", n, got, c)
	default:
	}
	return got
}

// pipeline writes cmds in one write and reads up to the tagged reply of
// the last one.
func (r *raw) pipeline(cmds string, lastTag string) []string {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.conn, cmds); err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, lastTag+" ") {
			return out
		}
	}
}

// While Session.Fetch runs, commandOf gives that FETCH's text as the
// client wrote it, also when commands come pipelined; not when it had a
// literal or was over 8 KiB.
func TestCommandOfPipelined(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	fetches := ts.fetchRecorder()
	r := ts.raw()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	r.ok("SELECT INBOX")
	var long strings.Builder
	for i := range 700 {
		fmt.Fprintf(&long, " X-Field-%04d", i)
	}
	out := r.pipeline("a NOOP\r\nb FETCH 1 (FLAGS)\r\nc FETCH 1 (UID)\r\n"+
		`d uid fetch 1 (RFC822.HEADER BODY.PEEK[HEADER.FIELDS (From "Subject")])`+"\r\n"+
		"e FETCH 1 (BODY.PEEK[HEADER.FIELDS ({7+}\r\nSubject)])\r\n"+
		"f FETCH 1 (BODY.PEEK[HEADER.FIELDS ("+long.String()[1:]+")])\r\n"+
		"g FETCH 1 (FLAGS)\r\n", "g")
	for _, tag := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		if !hasLine(out, tag+" OK ") {
			t.Fatalf("%s failed: %q", tag, out)
		}
	}
	want := []string{"b FETCH 1 (FLAGS)", "c FETCH 1 (UID)",
		`d uid fetch 1 (RFC822.HEADER BODY.PEEK[HEADER.FIELDS (From "Subject")])`, "-", "-", "g FETCH 1 (FLAGS)"}
	if got := recorded(t, fetches, len(want)); !slices.Equal(got, want) {
		t.Fatalf("recorded %q\nwant %q", got, want)
	}
}

// Literal data is not taken for lines, commands or STARTTLS: not in an
// APPEND (synchronizing or not), not before login either; and a literal
// the server refuses, so the client never sends, does not swallow the
// commands that follow.
func TestCommandOfSkipsLiterals(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	fetches := ts.fetchRecorder()

	// Not logged in: imapserver reads the APPEND literal, then refuses.
	r := ts.raw()
	lit := "x STARTTLS\r\nb FETCH 1 (FLAGS)\r\n"
	r.send(fmt.Sprintf("a APPEND INBOX {%d}", len(lit)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("APPEND: %q", l)
	}
	out := r.pipeline(lit+"\r\nc CAPABILITY\r\n", "c")
	if hasLine(out, "x OK") || !hasLine(out, "a BAD") || !hasLine(out, " STARTTLS") || !hasLine(out, "c OK") {
		t.Fatalf("after an APPEND literal: %q", out)
	}
	// An APPEND literal over the APPENDLIMIT is refused before the client
	// sends it: the next line is a command.
	r.send("d APPEND INBOX {999999999}")
	if l := r.line(); !strings.HasPrefix(l, "d NO [TOOBIG]") {
		t.Fatalf("APPEND {999999999}: %q", l)
	}
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)

	// Logged in: the literal's lines are no FETCH, the FETCH after is.
	r.ok("SELECT INBOX")
	msg := "Subject: literal\r\n\r\nx STARTTLS\r\nb FETCH 1 (FLAGS)\r\n"
	r.send(fmt.Sprintf("e APPEND INBOX {%d}", len(msg)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("APPEND: %q", l)
	}
	out = r.pipeline(msg+"\r\nf FETCH 1 (UID)\r\n"+fmt.Sprintf("g APPEND INBOX {%d+}\r\n%s\r\nh FETCH 2 (UID)\r\n", len(msg), msg), "h")
	if !hasLine(out, "e OK [APPENDUID") || !hasLine(out, "g OK [APPENDUID") || !hasLine(out, "h OK") {
		t.Fatalf("APPENDs: %q", out)
	}
	want := []string{"f FETCH 1 (UID)", "h FETCH 2 (UID)"}
	if got := recorded(t, fetches, len(want)); !slices.Equal(got, want) {
		t.Fatalf("recorded %q\nwant %q", got, want)
	}
}
