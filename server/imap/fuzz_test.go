package imap

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// panicWatch is a slog handler that remembers log records about panics
// (imapserver recovers a panic per connection and only logs it).
type panicWatch struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicWatch) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	if strings.Contains(msg, "panic") {
		p.mu.Lock()
		p.panics = append(p.panics, msg)
		p.mu.Unlock()
	}
	return nil
}
func (p *panicWatch) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicWatch) WithGroup(string) slog.Handler      { return p }

func (p *panicWatch) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.panics
	p.panics = nil
	return out
}

var fuzzSeeds = []string{
	"a CAPABILITY\r\nb NOOP\r\nc LOGOUT\r\n",
	"a SELECT INBOX\r\nb FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)\r\n",
	"a SELECT INBOX\r\nb FETCH 1 BODY[]\r\nc FETCH 2 (BODY.PEEK[1.MIME] BODY[HEADER.FIELDS (SUBJECT)]<0.10> BINARY[1])\r\n",
	"a SELECT INBOX\r\nb STORE 1:* +FLAGS (\\Deleted kw1 $Junk)\r\nc EXPUNGE\r\n",
	"a SELECT INBOX\r\nb UID SEARCH RETURN (SAVE MIN MAX COUNT) OR SUBJECT x NOT BODY y\r\nc UID FETCH $ (UID)\r\nd UID EXPUNGE $\r\n",
	"a SELECT INBOX\r\nb COPY 1:2 Archive\r\nc MOVE 1 Trash\r\nd UID MOVE 2:* nowhere\r\n",
	"a APPEND INBOX (\\Seen) \"05-Mar-2024 10:00:00 +0000\" {20}\r\nSubject: x\r\n\r\nbody\r\n\r\nb STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE DELETED)\r\n",
	"a CREATE Family/Photos\r\nb RENAME Family Kin\r\nc LIST \"\" * RETURN (STATUS (MESSAGES) SUBSCRIBED CHILDREN)\r\nd DELETE Kin/Photos\r\ne LSUB \"\" %\r\n",
	"a CREATE x (USE (\\Sent))\r\nb LIST (SPECIAL-USE) \"\" *\r\nc LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %\r\n",
	"a ENABLE IMAP4rev2\r\nb SELECT INBOX\r\nc SEARCH ALL\r\nd IDLE\r\nDONE\r\ne UNSELECT\r\nf NAMESPACE\r\n",
	"a EXAMINE INBOX\r\nb STORE 1 FLAGS (\\Seen)\r\nc CLOSE\r\n",
	"a AUTHENTICATE PLAIN\r\n*\r\nb LOGIN {3}\r\nabc {2}\r\nxy\r\n",
	"a SELECT {5+}\r\nINBOX\r\nb FETCH 1:4294967295 (BODY[1.2.3.4.5.6.7.8.9.10.11.12.MIME])\r\n",
	"a APPEND INBOX {99999999999}\r\n",
	"a SEARCH CHARSET UTF-8 TEXT \"\xc3\xa9\" SINCE 1-Jan-2000 LARGER 10 UNKEYWORD x\r\n",
	"\x00\xff\r\n* \r\n)))\r\n",
}

var fuzzMessages = []string{
	"From: a@example.org\r\nSubject: hello\r\n\r\nplain body\r\n",
	"From: b@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n",
	"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: multipart/alternative; boundary=\"missing\r\n\r\nbroken\r\n",
}

// FuzzConnection drives whole connections, commands and literals, logged
// in or not: the server must not panic or hang, and the next connection
// must work.
func FuzzConnection(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	watch := &panicWatch{}
	ts := newTestServer(f, func(o *Options) {
		o.Logger = slog.New(watch)
		o.LoginTimeout = 10 * time.Second
	})
	for _, m := range fuzzMessages {
		ts.deliver("", m)
	}
	f.Fuzz(func(t *testing.T, login bool, input []byte) {
		conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetLinger(0) // no TIME_WAIT: the fuzzer dials fast
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		var pre bytes.Buffer
		if login {
			pre.WriteString("L LOGIN " + testUser + " \"" + testPass + "\"\r\n")
		}
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, conn)
			done <- err
		}()
		conn.Write(pre.Bytes())
		conn.Write(input)
		conn.Write([]byte("\r\nZ LOGOUT\r\n"))
		conn.(*net.TCPConn).CloseWrite()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("connection did not end for input %q", input)
		}
		if p := watch.take(); len(p) > 0 {
			t.Fatalf("panic for input %q: %q", input, p)
		}
		// The next connection works.
		next, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer next.Close()
		next.(*net.TCPConn).SetLinger(0)
		r := &raw{t: t, conn: next, r: bufio.NewReader(next)}
		if l := r.line(); !strings.HasPrefix(l, "* OK ") {
			t.Fatalf("greeting %q after input %q", l, input)
		}
		r.ok("NOOP")
	})
}
