package smtp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// RFC 1870: SIZE in MAIL and the stream itself; a message of exactly the
// limit passes (go-smtp alone would refuse it), one byte more does not,
// and the store never receives more than the limit plus the added fields.
func TestSizeLimit(t *testing.T) {
	const limit = 1000
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxMessageSize = limit })
	c := h.client("")
	if sz, ok := c.MaxMessageSize(); !ok || sz != limit {
		t.Errorf("advertised SIZE %d %v", sz, ok)
	}

	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c.example\r\n")
	r.reply()
	r.send(fmt.Sprintf("MAIL FROM:<x@example.net> SIZE=%d\r\n", limit+1))
	r.expect("552 5.3.4")
	r.send(fmt.Sprintf("MAIL FROM:<x@example.net> SIZE=%d\r\n", limit))
	r.expect("250 ")

	exact := "Subject: x\r\n\r\n" + strings.Repeat("a", limit-16) + "\r\n"
	if len(exact) != limit {
		t.Fatalf("test message is %d bytes", len(exact))
	}
	if err := send(c, "x@example.net", []string{alice}, exact); err != nil {
		t.Fatalf("message of exactly the limit: %v", err)
	}
	wantReply(t, send(c, "x@example.net", []string{alice}, exact+"b"), 552, "5.3.4")
	// Far too big: refused while streaming, the store got at most the limit.
	huge := "Subject: x\r\n\r\n" + strings.Repeat(strings.Repeat("z", 98)+"\r\n", 10000)
	wantReply(t, send(c, "x@example.net", []string{alice}, huge), 552, "5.3.4")
	if n := len(h.store.messages(alice)); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
	if _, aborts := h.store.counts(); aborts != 2 {
		t.Errorf("%d aborts, want 2", aborts)
	}
	for _, m := range h.store.maxSizes {
		if m > limit+addedRoom+1024 {
			t.Errorf("store limit %d is far above the message limit", m)
		}
	}
	// The connection is still usable.
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
}

func TestSizeLimitBDAT(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxMessageSize = 100 })
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c.example\r\nMAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.org>\r\n")
	r.reply()
	r.expect("250 ")
	r.expect("250 ")
	r.send("BDAT 60\r\n" + strings.Repeat("a", 60))
	r.expect("250 ")
	r.send("BDAT 60 LAST\r\n" + strings.Repeat("b", 60))
	r.expect("552 5.3.4")
	r.send("NOOP\r\n")
	r.expect("250 ")
	if h.store.total() != 0 {
		t.Error("oversized BDAT message stored")
	}
}

// RFC 5321 §6.3: more than MaxHops Received fields is a loop (554 5.4.6).
func TestHopLimit(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxHops = 5 })
	c := h.client("")
	hops := func(n int) string {
		return strings.Repeat("Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n", n) + "Subject: x\r\n\r\nReceived: in the body does not count\r\n"
	}
	if err := send(c, "x@example.net", []string{alice}, hops(5)); err != nil {
		t.Fatal(err)
	}
	wantReply(t, send(c, "x@example.net", []string{alice}, hops(6)), 554, "5.4.6")
	// Folded and oddly cased fields count too.
	folded := strings.Repeat("RECEIVED: from a\r\n\tby b; date\r\n", 6) + "\r\nbody\r\n"
	wantReply(t, send(c, "x@example.net", []string{alice}, folded), 554, "5.4.6")
	if h.store.total() != 1 {
		t.Errorf("%d stored", h.store.total())
	}
}

// RFC 5321 §4.5.3.1.8: 452 past the recipient limit.
func TestMaxRecipients(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxRecipients = 2 })
	c := h.client("")
	if err := c.Mail("x@example.net", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{alice, bob} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantReply(t, c.Rcpt("family@example.org", nil), 452, "4.5.3")
}

// Bare LF becomes CRLF; a lone CR stays; CRLF split across reads is one
// line end.
func TestBareLFNormalised(t *testing.T) {
	h := newHarness(t, MX, nil)
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("354")
	r.send("Subject: lf\nX: y\r\n\nline1\nline\r2\r\n.\n\r\n.\r\n")
	r.expect("250 2.0.0")
	msgs := h.store.messages(alice)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	_, body, _ := strings.Cut(string(msgs[0]), "+0000\r\n")
	// ".\n" is no end of data (only CRLF.CRLF is); go-smtp unstuffs its dot.
	want := "Subject: lf\r\nX: y\r\n\r\nline1\r\nline\r2\r\n\r\n\r\n"
	if body != want {
		t.Errorf("got %q\nwant %q", body, want)
	}
}

// A line after a bare LF is unstuffed like one after CRLF (DATA only),
// and "LF . CRLF" is content, never the end of data (SMTP smuggling).
func TestBareLFDotUnstuffing(t *testing.T) {
	h := newHarness(t, MX, nil)
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("354")
	r.send("Subject: s\r\n\r\na\n..b\n.\r\nMAIL FROM:<smuggled@example.net>\r\n.\r\n")
	r.expect("250 2.0.0")
	r.send("RCPT TO:<alice@example.org>\r\n")
	r.expect("502 5.5.1") // no smuggled transaction is open
	_, body, _ := strings.Cut(string(h.store.messages(alice)[0]), "+0000\r\n")
	if want := "Subject: s\r\n\r\na\r\n.b\r\n\r\nMAIL FROM:<smuggled@example.net>\r\n"; body != want {
		t.Errorf("got %q\nwant %q", body, want)
	}
	// BDAT has no dot-stuffing: the same bytes stay.
	r.send("MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nBDAT 9 LAST\r\na\n..b\n.\r\n")
	r.expect("250")
	r.expect("250")
	r.expect("250 2.0.0")
	_, body, _ = strings.Cut(string(h.store.messages(bob)[0]), "+0000\r\n")
	if want := "a\r\n..b\r\n.\r\n"; body != want {
		t.Errorf("BDAT: got %q\nwant %q", body, want)
	}
}

func TestBDATExactBytes(t *testing.T) {
	h := newHarness(t, MX, nil)
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<x@example.net> BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	part1 := "Subject: chunks\r\n\r\n.not stuffed\r\nQUIT\r\n"
	part2 := "\x00\xff binary-ish\r\nno final newline"
	r.send(fmt.Sprintf("BDAT %d\r\n%s", len(part1), part1))
	r.expect("250 ")
	r.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(part2), part2))
	r.expect("250 2.0.0")
	r.send("BDAT 0 LAST\r\n")
	r.expect("502") // no transaction
	msgs := h.store.messages(bob)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	_, body, _ := strings.Cut(string(msgs[0]), "+0000\r\n")
	if body != part1+part2 {
		t.Errorf("got %q", body)
	}
}

// 250 only after Commit; a failure part-way answers 451 and aborts.
func TestStoreFailures(t *testing.T) {
	msg := "Subject: x\r\n\r\n" + strings.Repeat("line of text\r\n", 1000)
	for _, tc := range []struct {
		name  string
		setup func(*fakeStore)
	}{
		{"write fails part-way", func(s *fakeStore) { s.failAfter = 4000 }},
		{"commit fails", func(s *fakeStore) { s.failCmt = errFakeDisk }},
		{"cannot start", func(s *fakeStore) { s.failNew = errFakeDisk }},
		{"cannot add recipient", func(s *fakeStore) { s.failAdd = errFakeDisk }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, MX, nil)
			tc.setup(h.store)
			c := h.client("")
			wantReply(t, send(c, "x@example.net", []string{alice, bob}, msg), 451, "4.3.0")
			if h.store.total() != 0 {
				t.Error("a copy is visible")
			}
			commits, aborts := h.store.counts()
			if commits != 0 || (tc.name != "cannot start" && aborts != 1) {
				t.Errorf("commits %d aborts %d", commits, aborts)
			}
			// Next transaction works once the store recovers.
			h.store.mu.Lock()
			h.store.failAfter, h.store.failCmt, h.store.failNew, h.store.failAdd = 0, nil, nil, nil
			h.store.mu.Unlock()
			if err := send(c, "x@example.net", []string{alice}, msg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Transfer aborted by the client: nothing stored, Abort called.
func TestClientDisconnectMidData(t *testing.T) {
	h := newHarness(t, MX, nil)
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("354")
	r.send("Subject: half\r\n\r\nsome text")
	r.c.Close()
	waitFor(t, func() bool { _, a := h.store.counts(); return a == 1 })
	if h.store.total() != 0 {
		t.Error("partial message stored")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached within 5s")
}

// RFC 5321 §4.5.3.2: a silent client is dropped with 421, in commands
// and in data.
func TestTimeouts(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) {
		o.Limits.CommandTimeout = time.Second
		o.Limits.DataTimeout = time.Second
	})
	r := h.raw("")
	r.expect("220 ")
	start := time.Now()
	r.expect("421 4.4.2")
	r.expectClosed()
	if d := time.Since(start); d < 800*time.Millisecond || d > 4*time.Second {
		t.Errorf("command timeout took %v, want about 1s", d)
	}
	r = h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("354")
	// Sending slowly but steadily keeps the data phase alive.
	for i := 0; i < 6; i++ {
		r.send("x\r\n")
		time.Sleep(300 * time.Millisecond)
	}
	r.expect("421 4.4.2")
	r.expectClosed()
	waitFor(t, func() bool { _, a := h.store.counts(); return a == 1 })
	if h.store.total() != 0 {
		t.Error("timed-out message stored")
	}
}

// RFC 5321 §4.5.3.1.4 and §4.5.3.1.6: line limits.
func TestLineLimits(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxLineLength = 2000 })
	r := h.raw("")
	r.expect("220 ")
	r.send("NOOP " + strings.Repeat("x", maxCommandLine) + "\r\n")
	r.expect("500 5.5.2")
	r.expectClosed()

	c := h.client("")
	long := "Subject: x\r\n\r\n" + strings.Repeat("y", 1998) + "\r\n"
	if err := send(c, "x@example.net", []string{alice}, long); err != nil {
		t.Fatalf("line of 2000 bytes with CRLF: %v", err)
	}
	r = h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("354")
	r.send(strings.Repeat("y", 2001) + "\r\n")
	r.expect("554 5.6.0")
	r.expectClosed()
	if h.store.total() != 1 {
		t.Errorf("%d stored", h.store.total())
	}
}

// Errors per connection: the MaxErrors-th error reply is followed by 421.
func TestMaxErrors(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxErrors = 4 })
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\n")
	r.reply()
	r.send("XYZZY\r\n")
	r.expect("500 5.5.2")
	r.send("MAIL FROM:<>\r\nRCPT TO:<nobody@example.org>\r\n")
	r.expect("250")
	r.expect("550 5.1.1")
	r.send("DATA\r\n")
	r.expect("502 5.5.1") // no valid recipient
	r.send("RCPT TO:<x@elsewhere.net>\r\n")
	r.expect("554 5.7.1")
	r.expect("421 4.7.0")
	r.expectClosed()
}

// Junk commands (NOOP and friends) are free up to a point, then count.
func TestJunkCommandLimit(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) {
		o.Limits.MaxJunkCommands = 5
		o.Limits.MaxErrors = 3
	})
	r := h.raw("")
	r.expect("220 ")
	var b bytes.Buffer
	for i := 0; i < 10; i++ {
		b.WriteString("NOOP\r\n")
	}
	r.send(b.String())
	for i := 0; i < 7; i++ {
		r.expect("250 ")
	}
	r.expect("421 4.7.0")
	r.expectClosed()
}

// Shutdown: an idle client gets 421 4.3.2 at once; a DATA in progress is
// finished and acknowledged, then the connection gets 421.
func TestShutdown(t *testing.T) {
	opts, store, _, _ := baseOptions(t, MX)
	srv := New(opts)
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	h := &harness{t: t, addr: ln.Addr().String()}

	idle := h.raw("")
	idle.expect("220 ")
	busy := h.raw("")
	busy.expect("220 ")
	busy.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	busy.reply()
	busy.expect("250")
	busy.expect("250")
	busy.expect("354")
	busy.send("Subject: in flight\r\n\r\npart one\r\n")

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	idle.expect("421 4.3.2")
	idle.expectClosed()
	time.Sleep(100 * time.Millisecond)
	busy.send("part two\r\n.\r\n")
	busy.expect("250 2.0.0")
	busy.expect("421 4.3.2")
	busy.expectClosed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(store.messages(alice)) != 1 {
		t.Error("in-flight message lost")
	}
	if _, err := io.ReadAll(idle.c); err != nil {
		t.Logf("read after close: %v", err)
	}
}

// Shutdown with a client that never finishes: ctx ends it.
func TestShutdownDeadline(t *testing.T) {
	opts, _, _, _ := baseOptions(t, MX)
	srv := New(opts)
	ln := listen(t)
	go srv.Serve(ln)
	h := &harness{t: t, addr: ln.Addr().String()}
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("354")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with a stuck transaction")
	}
	r.expectClosed()
}

// Junk commands between messages are fine: the count restarts with each
// message accepted.
func TestJunkCountRestartsAfterMessage(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) {
		o.Limits.MaxJunkCommands = 2
		o.Limits.MaxErrors = 2
	})
	c := h.client("")
	for i := 0; i < 6; i++ {
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
		if err := c.Noop(); err != nil {
			t.Fatal(err)
		}
		if err := send(c, "x@example.net", []string{alice}, "Subject: x\r\n\r\n"); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// Shutdown between two BDAT chunks lets the message finish.
func TestShutdownWaitsForBDAT(t *testing.T) {
	opts, store, _, _ := baseOptions(t, MX)
	srv := New(opts)
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	h := &harness{t: t, addr: ln.Addr().String()}
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nBDAT 12\r\nSubject: b\r\n")
	r.reply()
	r.expect("250")
	r.expect("250")
	r.expect("250")
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	r.send("BDAT 8 LAST\r\n\r\nbody\r\n")
	r.expect("250 2.0.0")
	r.expect("421 4.3.2")
	r.expectClosed()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	<-done
	if len(store.messages(alice)) != 1 {
		t.Error("message lost")
	}
}
