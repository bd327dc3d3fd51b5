package queue

import (
	"bytes"
	"crypto/tls"
	"errors"
	"mime"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/dnsresolv"
)

func TestDeliversToTheMX(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	got := r.messages()
	if len(got) != 1 {
		t.Fatalf("%d messages at the remote, want 1", len(got))
	}
	m := got[0]
	if m.from != "alice@home.test" || !slices.Equal(m.rcpts, []string{"bob@far.test"}) {
		t.Fatalf("envelope %q -> %v", m.from, m.rcpts)
	}
	if string(m.data) != crlf(plainMsg) {
		t.Fatalf("message changed on the way:\n%q\nwant\n%q", m.data, crlf(plainMsg))
	}
	if m.helo != "mail.home.test" {
		t.Fatalf("EHLO %q, want the hostname", m.helo)
	}
	if !strings.Contains(f.logs.String(), "tls=none") {
		t.Fatalf("no TLS result logged:\n%s", f.logs)
	}
}

func TestOneConnectionPerDomainPerRecipientResults(t *testing.T) {
	f := newFixture(t)
	far := newRemote(t, remoteOptions{})
	far.rcpt = func(_ int, to string) error {
		if strings.HasPrefix(to, "nobody@") {
			return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "no such user")
		}
		return nil
	}
	other := newRemote(t, remoteOptions{})
	f.net.host("mx.far.test", far.addr)
	f.net.mx("far.test", "mx.far.test")
	f.net.host("mx.other.test", other.addr)
	f.net.mx("other.test", "mx.other.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test", "carol@far.test", "nobody@far.test", "dave@other.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	if n := far.sessionCount(); n != 1 {
		t.Fatalf("%d connections to far.test, want 1 for its three recipients", n)
	}
	got := far.messages()
	if len(got) != 1 || !slices.Equal(got[0].rcpts, []string{"bob@far.test", "carol@far.test"}) {
		t.Fatalf("far.test got %+v, want one copy for bob and carol", got)
	}
	if o := other.messages(); len(o) != 1 || !slices.Equal(o[0].rcpts, []string{"dave@other.test"}) {
		t.Fatalf("other.test got %+v", o)
	}
	// nobody@ bounced to alice's Maildir.
	inbox := f.inbox("alice@home.test")
	if len(inbox) != 1 {
		t.Fatalf("%d messages in alice's inbox, want one DSN", len(inbox))
	}
	statuses := parseDSN(t, inbox[0])
	if len(statuses) != 1 || statuses["nobody@far.test"].status != "5.1.1" || statuses["nobody@far.test"].action != "failed" {
		t.Fatalf("DSN statuses %+v, want nobody@far.test failed 5.1.1", statuses)
	}
	if !bytes.Contains(inbox[0], []byte("Subject: hello")) {
		t.Fatal("the DSN does not carry the original header")
	}
	if !bytes.HasPrefix(inbox[0], []byte("Return-Path: <>")) {
		t.Fatalf("the DSN has no null Return-Path:\n%s", inbox[0])
	}
}

type dsnRcpt struct{ action, status, diagnostic, remote string }

// parseDSN checks the multipart/report structure (RFC 6522, RFC 3464) and
// returns the per-recipient fields.
func parseDSN(t *testing.T, msg []byte) map[string]dsnRcpt {
	t.Helper()
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	br := bufioReader(msg)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q: not multipart/report; report-type=delivery-status", h.Get("Content-Type"))
	}
	mr := textproto.NewMultipartReader(br, params["boundary"])
	var types []string
	out := map[string]dsnRcpt{}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		ct := p.Header.Get("Content-Type")
		types = append(types, strings.Split(ct, ";")[0])
		if !strings.HasPrefix(ct, "message/delivery-status") {
			continue
		}
		pr := bufioReaderFrom(p)
		if _, err := textproto.ReadHeader(pr); err != nil { // per-message fields
			t.Fatal(err)
		}
		for {
			rh, err := textproto.ReadHeader(pr)
			if err != nil || rh.Len() == 0 {
				break
			}
			addr := strings.TrimSpace(strings.TrimPrefix(rh.Get("Final-Recipient"), "rfc822;"))
			out[addr] = dsnRcpt{action: rh.Get("Action"), status: rh.Get("Status"), diagnostic: rh.Get("Diagnostic-Code"), remote: rh.Get("Remote-MTA")}
		}
	}
	if !slices.Equal(types, []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}) {
		t.Fatalf("DSN parts %v", types)
	}
	return out
}

func TestTemporaryFailuresRetried(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	r.rcpt = func(n int, _ string) error {
		if n < 3 {
			return smtpErr(451, gosmtp.EnhancedCode{4, 7, 1}, "greylisted, try again")
		}
		return nil
	}
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	var attempts []int
	f.opts.Retry = func(n int) time.Duration { attempts = append(attempts, n); return 50 * time.Millisecond }
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	if len(r.messages()) != 1 || r.sessionCount() != 3 {
		t.Fatalf("%d messages in %d sessions, want 1 in 3", len(r.messages()), r.sessionCount())
	}
	if !slices.Equal(attempts, []int{1, 2}) {
		t.Fatalf("retry waits asked for attempts %v, want [1 2]", attempts)
	}
	if len(f.inbox("alice@home.test")) != 0 {
		t.Fatal("a temporary failure was bounced")
	}
}

func TestDefaultRetrySchedule(t *testing.T) {
	want := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}
	for i, w := range want {
		if got := DefaultRetry(i + 1); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
	for n := 6; n < 100; n++ {
		if d := DefaultRetry(n); d < 2*time.Hour || d > 4*time.Hour {
			t.Fatalf("attempt %d: %v, want 2-4h", n, d)
		}
	}
}

func TestConnectionDroppedMidDATA(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	r.dropData = func(n int) bool { return n == 1 }
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg+strings.Repeat("more text\n", 2000), MessageOptions{})
	f.waitEmpty()
	if got := r.messages(); len(got) != 1 {
		t.Fatalf("%d messages delivered, want exactly 1", len(got))
	}
	if r.sessionCount() != 2 {
		t.Fatalf("%d sessions, want 2 (the dropped one and the retry)", r.sessionCount())
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	r.delay = func(n int) time.Duration {
		if n == 1 {
			return 2 * time.Second
		}
		return 0
	}
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.opts.CommandTimeout = 300 * time.Millisecond
	f.start()
	start := time.Now()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	if len(r.messages()) != 1 || r.sessionCount() != 2 {
		t.Fatalf("%d messages in %d sessions, want 1 in 2", len(r.messages()), r.sessionCount())
	}
	if !strings.Contains(f.logs.String(), "deferred") {
		t.Fatalf("the timeout was not a deferral:\n%s", f.logs)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestMXOrderAndFallback(t *testing.T) {
	f := newFixture(t)
	good := newRemote(t, remoteOptions{})
	busy := greeter(t, "421 4.3.2 too busy, try later\r\n")
	f.net.host("mx1.far.test", "")   // refuses connections
	f.net.host("mx2.far.test", busy) // 421 greeting
	f.net.host("mx3.far.test", good.addr)
	// Published out of order: preference decides.
	f.net.dns.MX["far.test"] = []dnsresolv.MX{{Host: "mx3.far.test", Pref: 30}, {Host: "mx1.far.test", Pref: 10}, {Host: "mx2.far.test", Pref: 20}}
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	if len(good.messages()) != 1 {
		t.Fatal("not delivered to the third MX")
	}
	f.net.mu.Lock()
	dials := f.net.dials
	f.net.mu.Unlock()
	want := []string{"127.0.0.10:25", "127.0.0.11:25", "127.0.0.12:25"}
	if !slices.Equal(dials, want) {
		t.Fatalf("dialled %v, want the MX hosts in preference order %v", dials, want)
	}
}

// greeter is a server that sends one line and hangs up.
func greeter(t *testing.T, line string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(line))
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestDNSFailures(t *testing.T) {
	f := newFixture(t)
	f.net.dns.MX["null.test"] = []dnsresolv.MX{{Host: ".", Pref: 0}}
	f.net.dns.Fail["servfail.test"] = dnsresolv.ErrTemporary
	var tries atomic.Int32
	f.opts.Retry = func(n int) time.Duration { tries.Add(1); return 20 * time.Millisecond }
	f.start()
	f.send("alice@home.test", []string{"a@null.test", "b@nxdomain.test"}, plainMsg, MessageOptions{})
	id := f.send("alice@home.test", []string{"c@servfail.test"}, plainMsg, MessageOptions{})
	f.waitFor("a DSN", func() bool { return len(f.inbox("alice@home.test")) == 1 })
	st := parseDSN(t, f.inbox("alice@home.test")[0])
	if st["a@null.test"].status != "5.1.10" || st["b@nxdomain.test"].status != "5.1.2" {
		t.Fatalf("DSN statuses %+v, want 5.1.10 for null MX and 5.1.2 for NXDOMAIN", st)
	}
	f.waitFor("retries of the SERVFAIL domain", func() bool { return tries.Load() >= 3 })
	env, err := f.q.spool.ReadEnvelope(id)
	if err != nil || env.Rcpts[0].State != StatePending {
		t.Fatalf("SERVFAIL recipient: %+v, %v; want still pending", env, err)
	}
	if len(f.net.dials) != 0 {
		t.Fatalf("dialled %v for domains without a usable MX", f.net.dials)
	}
}

func TestExpiryBounces(t *testing.T) {
	f := newFixture(t)
	f.net.dns.Fail["down.test"] = dnsresolv.ErrTemporary
	f.opts.MaxAge = 300 * time.Millisecond
	f.opts.Retry = func(int) time.Duration { return time.Hour } // capped at the deadline
	f.start()
	f.send("alice@home.test", []string{"x@down.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	inbox := f.inbox("alice@home.test")
	if len(inbox) != 1 {
		t.Fatalf("%d DSNs, want 1", len(inbox))
	}
	if st := parseDSN(t, inbox[0])["x@down.test"]; st.status != "4.4.7" || st.action != "failed" {
		t.Fatalf("expiry DSN %+v, want failed 4.4.7", st)
	}
}

func TestNeverBounceABounce(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	r.rcpt = func(int, string) error { return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "no") }
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	ids, _ := f.q.spool.IDs()
	if len(ids) != 0 || r.sessionCount() != 1 {
		t.Fatalf("a failed bounce made more mail: queue %v, sessions %d", ids, r.sessionCount())
	}
	if !strings.Contains(f.logs.String(), "not bouncing a bounce") {
		t.Fatal("the dropped bounce is not logged")
	}
}

func TestRemoteSenderGetsQueuedDSN(t *testing.T) {
	f := newFixture(t)
	far := newRemote(t, remoteOptions{})
	far.rcpt = func(int, string) error { return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "no such user") }
	senderMX := newRemote(t, remoteOptions{})
	f.net.host("mx.far.test", far.addr)
	f.net.mx("far.test", "mx.far.test")
	f.net.host("mx.elsewhere.test", senderMX.addr)
	f.net.mx("elsewhere.test", "mx.elsewhere.test")
	f.start()
	// A local alias forwarding elsewhere relays mail from a remote sender.
	f.send("eve@elsewhere.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitFor("the DSN at the sender's MX", func() bool { return len(senderMX.messages()) == 1 })
	m := senderMX.messages()[0]
	if m.from != "" || !slices.Equal(m.rcpts, []string{"eve@elsewhere.test"}) {
		t.Fatalf("DSN envelope %q -> %v, want <> -> eve", m.from, m.rcpts)
	}
	if st := parseDSN(t, m.data)["bob@far.test"]; st.status != "5.1.1" || st.remote != "dns; mx.far.test" {
		t.Fatalf("DSN %+v", st)
	}
	f.waitEmpty()
}

func TestSizeLimitRespected(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{maxSize: 1000})
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg+strings.Repeat("x", 2000)+"\n", MessageOptions{})
	f.waitEmpty()
	if len(r.messages()) != 0 {
		t.Fatal("sent a message larger than the SIZE the server announced")
	}
	if st := parseDSN(t, f.inbox("alice@home.test")[0])["bob@far.test"]; st.status != "5.3.4" {
		t.Fatalf("DSN %+v, want 5.3.4", st)
	}
}

func TestOpportunisticSTARTTLS(t *testing.T) {
	f := newFixture(t)
	cfg, _ := selfSigned(t, "mx.far.test")
	r := newRemote(t, remoteOptions{tls: cfg})
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	got := r.messages()
	if len(got) != 1 || !got[0].tls {
		t.Fatalf("got %+v, want one message over TLS", got)
	}
	if !strings.Contains(f.logs.String(), `tls="starttls TLS1.3 unverified"`) {
		t.Fatalf("TLS result not logged as unverified:\n%s", f.logs)
	}
}

func TestSpoolCommitAndAbort(t *testing.T) {
	f := newFixture(t)
	q, err := New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.q = q
	m, _ := q.NewMessage("a@home.test", 10, MessageOptions{})
	m.AddRecipient("b@far.test")
	if _, err := m.Write([]byte("0123456789x")); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversized write: %v", err)
	}
	if err := m.Commit(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("commit after oversize: %v", err)
	}
	m, _ = q.NewMessage("a@home.test", 0, MessageOptions{})
	m.Write([]byte("x"))
	m.Abort()
	m, _ = q.NewMessage("a@home.test", 0, MessageOptions{})
	m.Write([]byte("x"))
	if err := m.Commit(); err == nil {
		t.Fatal("a message without recipients was committed")
	}
	for _, sub := range []string{"tmp", "msg", "env"} {
		if names, _ := readDirNames(q.spool.dir + "/" + sub); len(names) != 0 {
			t.Fatalf("%s/ holds %v after aborts", sub, names)
		}
	}
	id := f.send("a@home.test", []string{"b@far.test", "B@far.test", "c@far.test"}, "Subject: x\n\nbody\n", MessageOptions{})
	env, err := q.spool.ReadEnvelope(id)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "a@home.test" || len(env.Rcpts) != 2 || env.Rcpts[0].State != StatePending {
		t.Fatalf("envelope %+v", env)
	}
	data, _ := os.ReadFile(q.spool.msgPath(id))
	if string(data) != "Subject: x\r\n\r\nbody\r\n" {
		t.Fatalf("message file %q", data)
	}
	if err := m.AddRecipient("not an address"); err == nil {
		t.Fatal("bad recipient accepted")
	}
	if ValidID("../x") || ValidID("") || !ValidID(id) {
		t.Fatal("ValidID")
	}
}

func TestFailedBounceRetriedSpacedOut(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	r.rcpt = func(int, string) error { return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "no") }
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	var lookups atomic.Int32
	f.opts.Lookup = func(addr string) ([]string, error) {
		if lookups.Add(1) <= 2 {
			return nil, errors.New("users file unreadable")
		}
		return []string{addr}, nil
	}
	f.opts.BounceRetry = 300 * time.Millisecond
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	time.Sleep(200 * time.Millisecond)
	if n := lookups.Load(); n != 1 {
		t.Fatalf("%d bounce tries within 200ms, want 1 (spaced by BounceRetry)", n)
	}
	f.waitEmpty()
	if n := lookups.Load(); n != 3 {
		t.Fatalf("%d bounce tries, want 3", n)
	}
	if len(f.inbox("alice@home.test")) != 1 {
		t.Fatal("the bounce never arrived")
	}
}

func TestBrokenSTARTTLSFallsBackToClearText(t *testing.T) {
	f := newFixture(t)
	cfg, _ := selfSigned(t, "mx.far.test")
	cfg.MaxVersion = tls.VersionTLS10 // no version in common with the client
	r := newRemote(t, remoteOptions{tls: cfg})
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	got := r.messages()
	if len(got) != 1 || got[0].tls {
		t.Fatalf("got %+v, want one message in clear text after the failed handshake", got)
	}
	if r.sessionCount() != 2 || !strings.Contains(f.logs.String(), "STARTTLS failed, trying again without TLS") {
		t.Fatalf("%d sessions; log:\n%s", r.sessionCount(), f.logs)
	}
}
