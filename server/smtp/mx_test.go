package smtp

import (
	"context"
	"crypto/tls"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// RFC 5321 §4.1.1.1, RFC 1870, 2920, 6152, 2034, 3030, 6531, 3207: what
// EHLO on port 25 advertises, and what it no longer does after STARTTLS.
func TestMXEHLOCapabilities(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Limits.MaxMessageSize = 12345 })
	r := h.raw("127.0.0.1")
	r.expect("220 " + testHost + " ESMTP")
	r.send("EHLO client.example.net\r\n")
	caps := strings.Join(r.reply(), "\n")
	for _, want := range []string{"PIPELINING", "8BITMIME", "SIZE 12345", "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING", "SMTPUTF8"} {
		if !regexp.MustCompile(`(?m)^250[- ]` + want + `$`).MatchString(caps) {
			t.Errorf("EHLO lacks %q:\n%s", want, caps)
		}
	}
	if strings.Contains(caps, "AUTH") {
		t.Errorf("port 25 advertises AUTH:\n%s", caps)
	}
	r.send("STARTTLS\r\n")
	r.expect("220 2.0.0")
	tc := tls.Client(r.c, h.clientTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.c = tc
	r.br.Reset(tc)
	r.send("EHLO client.example.net\r\n")
	caps = strings.Join(r.reply(), "\n")
	if strings.Contains(caps, "STARTTLS") || strings.Contains(caps, "AUTH") {
		t.Errorf("after TLS EHLO still offers STARTTLS or AUTH:\n%s", caps)
	}
	if !strings.Contains(caps, "SIZE 12345") {
		t.Errorf("after TLS EHLO lost SIZE:\n%s", caps)
	}
	r.send("STARTTLS\r\n")
	r.expect("503 5.5.1")
}

func TestMXNoTLSConfiguredNoSTARTTLS(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.TLS = nil })
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c.example\r\n")
	if caps := strings.Join(r.reply(), "\n"); strings.Contains(caps, "STARTTLS") {
		t.Errorf("STARTTLS advertised without TLS:\n%s", caps)
	}
	r.send("STARTTLS\r\n")
	r.expect("502 5.5.1")
}

// ticketCache records session tickets the client receives.
type ticketCache struct {
	mu   sync.Mutex
	puts int
}

func (c *ticketCache) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (c *ticketCache) Put(_ string, cs *tls.ClientSessionState) {
	if cs != nil {
		c.mu.Lock()
		c.puts++
		c.mu.Unlock()
	}
}

// Microsoft's SMTP client aborts STARTTLS against Go servers that send
// TLS 1.3 session tickets: none may be sent, for STARTTLS or port 465.
func TestNoSessionTickets(t *testing.T) {
	for _, mode := range []Mode{MX, SubmissionTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			// The server turns tickets off even when its config has them on.
			h := newHarness(t, mode, func(o *Options) { o.TLS.SessionTicketsDisabled = false })
			cache := &ticketCache{}
			cfg := h.clientTLS.Clone()
			cfg.ClientSessionCache = cache
			r := h.raw("")
			if mode == MX {
				r.expect("220 ")
				r.send("EHLO c.example\r\nSTARTTLS\r\n")
				r.reply()
				r.expect("220 2.0.0")
			}
			tc := tls.Client(r.c, cfg)
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			r.c = tc
			r.br.Reset(tc)
			if mode != MX {
				r.expect("220 ")
			}
			r.send("NOOP\r\n")
			r.expect("250 ")
			if tc.ConnectionState().Version != tls.VersionTLS13 {
				t.Fatalf("want TLS 1.3 for this test")
			}
			cache.mu.Lock()
			defer cache.mu.Unlock()
			if cache.puts != 0 {
				t.Errorf("server sent %d session tickets", cache.puts)
			}
		})
	}
}

// RFC 5321 §4.4: Return-Path and Received first, then the message as sent:
// dot-stuffing undone (§4.5.2), 8-bit and UTF-8 bytes unchanged.
func TestMXDeliversExactBytes(t *testing.T) {
	h := newHarness(t, MX, nil)
	c := h.client("")
	body := "From: Zoë <z@example.net>\r\nSubject: caf\xe9 \xf0\x9f\x93\xa8\r\n\r\n" +
		".leading dot\r\n..two dots\r\n.\r\n\x80\xff raw 8-bit\r\nlast line\r\n"
	if err := send(c, "z@example.net", []string{alice}, body); err != nil {
		t.Fatal(err)
	}
	msgs := h.store.messages(alice)
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered", len(msgs))
	}
	got := string(msgs[0])
	trace := regexp.MustCompile(`^Return-Path: <z@example\.net>\r\n` +
		`Received: from client\.example\.net \(\[127\.0\.0\.1\]\)\r\n` +
		`\tby mx\.example\.org \(maildird\) with ESMTP id [a-z2-7]{16}\r\n` +
		`\tfor <alice@example\.org>;\r\n` +
		`\tFri, 02 Jan 2026 03:04:05 \+0000\r\n`)
	loc := trace.FindStringIndex(got)
	if loc == nil {
		t.Fatalf("trace fields wrong:\n%q", got)
	}
	// The client library dot-stuffs; the store must see the original.
	if rest := got[loc[1]:]; rest != body {
		t.Errorf("body changed:\n got %q\nwant %q", rest, body)
	}
}

// RFC 8314 §7.4 / RFC 3848: TLS in the Received field.
func TestReceivedMentionsTLS(t *testing.T) {
	h := newHarness(t, MX, nil)
	c := h.startTLSClient("")
	if err := send(c, "", []string{alice, bob}, "Subject: x\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	got := string(h.store.messages(alice)[0])
	if !regexp.MustCompile(`with ESMTPS id [a-z2-7]+\r\n\ttls TLS_[A-Z0-9_]+ \(TLS1\.3\);\r\n`).MatchString(got) {
		t.Errorf("Received without TLS details:\n%s", got)
	}
	if strings.Contains(got, "for <") {
		t.Errorf("two recipients, yet a for clause:\n%s", got)
	}
	if !strings.HasPrefix(got, "Return-Path: <>\r\n") {
		t.Errorf("null sender not kept:\n%s", got)
	}
}

// Local users, user+tag@, aliases and lists; one copy per mailbox.
func TestMXRecipients(t *testing.T) {
	h := newHarness(t, MX, nil)
	c := h.client("")
	to := []string{"Alice+News@Example.org", "family@example.org", alice}
	if err := send(c, "x@example.net", to, "Subject: hi\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.store.messages(alice)); n != 1 {
		t.Errorf("alice got %d copies, want 1", n)
	}
	if n := len(h.store.messages(bob)); n != 1 {
		t.Errorf("bob got %d copies, want 1", n)
	}
}

func TestMXRefusals(t *testing.T) {
	h := newHarness(t, MX, nil)
	c := h.client("")
	if err := c.Mail("x@example.net", nil); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt("nobody@example.org", nil), 550, "5.1.1")
	wantReply(t, c.Rcpt("someone@elsewhere.net", nil), 554, "5.7.1")
	// An alias that forwards elsewhere cannot be served without the queue.
	wantReply(t, c.Rcpt("fwd@example.org", nil), 451, "4.3.0")
}

// Port 25 never relays: AUTH is not offered and refused, so nothing can
// unlock a remote recipient.
func TestMXNeverRelays(t *testing.T) {
	h := newHarness(t, MX, nil)
	r := h.raw("")
	r.expect("220 ")
	r.send("EHLO c.example\r\n")
	r.reply()
	r.send("AUTH PLAIN " + plainIR("", alice, alicePW) + "\r\n")
	r.expect("502 5.5.1")
	r.send("MAIL FROM:<alice@example.org>\r\n")
	r.expect("250 ")
	r.send("RCPT TO:<victim@elsewhere.net>\r\n")
	r.expect("554 5.7.1")
	if len(h.auth.attempts) != 0 {
		t.Errorf("port 25 tried a login: %v", h.auth.attempts)
	}
}

func TestMXPostmasterWithoutDomain(t *testing.T) {
	h := newHarness(t, MX, func(o *Options) { o.Postmaster = alice })
	c := h.client("")
	if err := send(c, "x@example.net", []string{"Postmaster"}, "Subject: hi\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if len(h.store.messages(alice)) != 1 {
		t.Error("postmaster mail not delivered")
	}
}

func TestDirectoryFailureIsTemporary(t *testing.T) {
	h := newHarness(t, MX, nil)
	h.dir.fail = errFakeDisk
	c := h.client("")
	if err := c.Mail("x@example.net", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt(alice, nil), 451)
}

// RFC 5321 §4.4 "with": SMTP after HELO, ESMTP after EHLO, UTF8SMTP with
// SMTPUTF8 (RFC 6531 §3.7.3); the HELO name is kept harmless.
func TestReceivedProtocolNames(t *testing.T) {
	h := newHarness(t, MX, nil)
	for _, tc := range []struct{ greet, mail, want string }{
		{"HELO old.example", "MAIL FROM:<a@example.net>", "from old.example ([127.0.0.1])\r\n\tby mx.example.org (maildird) with SMTP id"},
		{"EHLO new.example", "MAIL FROM:<ä@example.net> SMTPUTF8", "with UTF8SMTP id"},
		{"EHLO evil(x);<y>\x01", "MAIL FROM:<a@example.net>", "from evil_x___y__ ([127.0.0.1])"},
	} {
		r := h.raw("")
		r.expect("220 ")
		r.send(tc.greet + "\r\n")
		r.reply()
		r.send(tc.mail + "\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
		r.expect("250")
		r.expect("250")
		r.expect("354")
		r.send("Subject: p\r\n\r\n.\r\n")
		r.expect("250 2.0.0")
		msgs := h.store.messages(alice)
		if got := string(msgs[len(msgs)-1]); !strings.Contains(got, tc.want) {
			t.Errorf("%s: want %q in\n%s", tc.greet, tc.want, got)
		}
	}
}

func TestAddressLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":        "[192.0.2.1]",
		"2001:db8::1":      "[IPv6:2001:db8::1]",
		"::ffff:192.0.2.1": "[IPv6:::ffff:192.0.2.1]",
	} {
		if got := addressLiteral(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if got := addressLiteral(netip.Addr{}); got != "[unknown]" {
		t.Errorf("zero address: %s", got)
	}
}

// server.Group hands port 465 connections out already wrapped in TLS.
func TestImplicitTLSFromListener(t *testing.T) {
	opts, store, _, _ := baseOptions(t, SubmissionTLS)
	_, clientTLS := testTLS(t)
	srv := New(opts)
	ln := tls.NewListener(listen(t), opts.TLS)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	conn, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := gosmtp.NewClient(conn)
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := string(store.messages(bob)[0]); !strings.Contains(got, "with ESMTPSA id") {
		t.Errorf("Received:\n%s", got)
	}
}

// A trailing dot on the domain is the same domain; an alias whose
// targets are all gone is refused, never accepted into nowhere.
func TestRecipientEdgeCases(t *testing.T) {
	h := newHarness(t, MX, nil)
	h.dir.aliases["empty@example.org"] = nil
	c := h.client("")
	if err := c.Mail("x@example.net", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@example.org.", nil); err != nil {
		t.Fatalf("trailing dot: %v", err)
	}
	wantReply(t, c.Rcpt("empty@example.org", nil), 550, "5.1.1")
}
