package smtp

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/server/auth"
)

func plainIR(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// DESIGN.md §5, RFC 4954 §4: AUTH is offered only after TLS, except for
// a client on the machine itself (its address is the local address) or
// with allow_plaintext.
func TestSubmissionAuthNeedsTLS(t *testing.T) {
	h := newHarness(t, Submission, nil)
	remote := h.raw("127.0.0.2")
	remote.expect("220 ")
	remote.send("EHLO c.example\r\n")
	if caps := strings.Join(remote.reply(), "\n"); strings.Contains(caps, "AUTH") {
		t.Errorf("AUTH offered in clear to another machine:\n%s", caps)
	}
	remote.send("AUTH PLAIN " + plainIR("", alice, alicePW) + "\r\n")
	remote.expect("538 5.7.11")
	remote.send("AUTH LOGIN\r\n")
	remote.expect("538 5.7.11")
	if len(h.auth.attempts) != 0 {
		t.Fatalf("password checked without TLS: %v", h.auth.attempts)
	}

	local := h.raw("127.0.0.1")
	local.expect("220 ")
	local.send("EHLO c.example\r\n")
	if caps := strings.Join(local.reply(), "\n"); !strings.Contains(caps, "250-AUTH PLAIN LOGIN") {
		t.Errorf("AUTH not offered to the machine itself:\n%s", caps)
	}

	c := h.startTLSClient("127.0.0.2")
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "PLAIN LOGIN" {
		t.Errorf("after TLS: AUTH %v %q", ok, mechs)
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
}

func TestSubmissionAllowPlaintext(t *testing.T) {
	h := newHarness(t, Submission, func(o *Options) { o.AllowPlaintext = true })
	c := h.client("127.0.0.2")
	if ok, _ := c.Extension("AUTH"); !ok {
		t.Fatal("allow_plaintext: AUTH not offered")
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
}

// RFC 4954 §4, §6; LOGIN as Outlook sends it.
func TestAuthMechanisms(t *testing.T) {
	h := newHarness(t, Submission, nil)
	steps := []struct{ name, dialog string }{
		{"plain-ir", "AUTH PLAIN " + plainIR("", alice, alicePW) + "|235 2.0.0"},
		{"plain-ir-authzid-self", "AUTH PLAIN " + plainIR(alice, alice, alicePW) + "|235 2.0.0"},
		{"plain-challenge", "AUTH PLAIN|334 |" + plainIR("", alice, alicePW) + "|235 2.0.0"},
		{"plain-bad-password", "AUTH PLAIN " + plainIR("", alice, "wrong") + "|535 5.7.8"},
		{"plain-other-authzid", "AUTH PLAIN " + plainIR(bob, alice, alicePW) + "|535 5.7.8"},
		{"plain-malformed", "AUTH PLAIN " + b64("no-nuls") + "|501 5.5.2"},
		{"plain-not-base64", "AUTH PLAIN !!!|454 4.7.0"},
		{"login", "AUTH LOGIN|334 VXNlcm5hbWU6|" + b64(alice) + "|334 UGFzc3dvcmQ6|" + b64(alicePW) + "|235 2.0.0"},
		{"login-ir", "AUTH LOGIN " + b64(alice) + "|334 UGFzc3dvcmQ6|" + b64(alicePW) + "|235 2.0.0"},
		{"login-bad", "AUTH LOGIN|334 VXNlcm5hbWU6|" + b64(alice) + "|334 UGFzc3dvcmQ6|" + b64("nope") + "|535 5.7.8"},
		{"login-cancel", "AUTH LOGIN|334 VXNlcm5hbWU6|*|501 5.0.0"},
		{"unknown-mech", "AUTH CRAM-MD5|504 5.5.4"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := h.raw("127.0.0.1")
			r.expect("220 ")
			r.send("EHLO c.example\r\n")
			r.reply()
			parts := strings.Split(st.dialog, "|")
			for i := 0; i < len(parts); i += 2 {
				r.send(parts[i] + "\r\n")
				r.expect(parts[i+1])
			}
		})
	}
}

func TestAuthThrottledAndBackendDown(t *testing.T) {
	h := newHarness(t, Submission, nil)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", auth.ErrThrottled), "454 4.7.0 Too many"},
		{fmt.Errorf("disk on fire"), "454 4.7.0 Temporary"},
	} {
		h.auth.mu.Lock()
		h.auth.fail = tc.err
		h.auth.mu.Unlock()
		r := h.raw("127.0.0.1")
		r.expect("220 ")
		r.send("EHLO c.example\r\n")
		r.reply()
		r.send("AUTH PLAIN " + plainIR("", alice, alicePW) + "\r\n")
		r.expect(tc.want)
		r.send("AUTH PLAIN " + plainIR("", alice, alicePW) + "\r\n")
		r.expect("454")
	}
}

// MAIL before AUTH: 530 5.7.0 (RFC 4954 §6); a second AUTH: 503.
func TestSubmissionRequiresAuth(t *testing.T) {
	h := newHarness(t, Submission, nil)
	c := h.client("127.0.0.1")
	wantReply(t, c.Mail(alice, nil), 530, "5.7.0")
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Auth(sasl.NewPlainClient("", alice, alicePW)), 503)
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
}

func authedClient(t *testing.T, h *harness, user, pw string) *gosmtp.Client {
	t.Helper()
	c := h.client("127.0.0.1")
	if err := c.Auth(sasl.NewPlainClient("", user, pw)); err != nil {
		t.Fatal(err)
	}
	return c
}

// MAIL FROM and the header From must be the user's address, a +tag of
// it, or an alias that reaches the user: 553 5.7.1 / 550 5.7.1 otherwise.
func TestSubmissionSenderRules(t *testing.T) {
	h := newHarness(t, Submission, nil)
	cases := []struct {
		name, from, header string
		mail, data         int
	}{
		{"own", alice, "Alice <alice@example.org>", 250, 250},
		{"tag", "alice+lists@example.org", "alice+lists@example.org", 250, 250},
		{"alias", "family@example.org", "The family <family@example.org>", 250, 250},
		{"case", "ALICE@Example.ORG", "alice@EXAMPLE.org", 250, 250},
		{"null-sender", "", alice, 250, 250},
		{"other-user", bob, alice, 553, 0},
		{"remote", "alice@gmail.example", alice, 553, 0},
		{"unknown-local", "ghost@example.org", alice, 553, 0},
		{"header-other", alice, "bob@example.org", 250, 550},
		{"header-two-addresses", alice, "alice@example.org, bob@example.org", 250, 550},
		{"header-missing", alice, "", 250, 550},
		{"header-garbage", alice, "<<<", 250, 550},
		{"header-huge", alice, strings.Repeat("Alice ", 2000) + "<alice@example.org>", 250, 550},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := authedClient(t, h, alice, alicePW)
			err := c.Mail(tc.from, nil)
			if tc.mail != 250 {
				wantReply(t, err, tc.mail, "5.7.1")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt(bob, nil); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			msg := "Subject: s\r\n\r\nbody\r\n"
			if tc.header != "" {
				msg = "From: " + tc.header + "\r\n" + msg
			}
			w.Write([]byte(msg))
			err = w.Close()
			if tc.data == 250 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.data)
		})
	}
	if h.store.total() != 5 {
		t.Errorf("%d messages stored, want 5", h.store.total())
	}
}

// Remote recipients: 451 4.3.0 until the queue exists; then queued.
func TestSubmissionRemoteRecipients(t *testing.T) {
	h := newHarness(t, Submission, nil)
	c := authedClient(t, h, alice, alicePW)
	if err := c.Mail(alice, nil); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("friend@elsewhere.net", nil)
	wantReply(t, err, 451, "4.3.0")
	if !strings.Contains(strings.ToLower(err.Error()), "outbound delivery not available yet") {
		t.Errorf("remote RCPT: %v", err)
	}

	q := &fakeQueue{}
	h2 := newHarness(t, Submission, func(o *Options) { o.Queue = q })
	c2 := authedClient(t, h2, alice, alicePW)
	if err := send(c2, alice, []string{"friend@elsewhere.net", bob}, "From: alice@example.org\r\nDate: x\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	if len(q.msgs) != 1 || q.msgs[0].from != alice || len(q.msgs[0].rcpts) != 1 || q.msgs[0].rcpts[0] != "friend@elsewhere.net" {
		t.Fatalf("queued: %+v", q.msgs)
	}
	local := h2.store.messages(bob)
	// RFC 5321 §4.4: only final delivery adds Return-Path.
	if len(local) != 1 || string(local[0]) != "Return-Path: <alice@example.org>\r\n"+string(q.msgs[0].data) {
		t.Errorf("local and queued copies differ beyond Return-Path:\n%q\n%q", local, q.msgs[0].data)
	}
	if !strings.Contains(string(local[0]), "with ESMTPA id") {
		t.Errorf("Received does not say ESMTPA:\n%s", local[0])
	}
}

// RFC 6409 §8.2, §8.3: Date and Message-ID added when missing, never twice.
func TestSubmissionAddsDateAndMessageID(t *testing.T) {
	h := newHarness(t, Submission, nil)
	c := authedClient(t, h, alice, alicePW)
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\nSubject: s\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <own@x>\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	// A header that ends without its empty line gets one.
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\nnot a header line\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs := h.store.messages(bob)
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	_, first, _ := strings.Cut(string(msgs[0]), "+0000\r\n")
	want := "From: alice@example.org\r\nSubject: s\r\nDate: Fri, 02 Jan 2026 03:04:05 +0000\r\nMessage-ID: <"
	if !strings.HasPrefix(first, want) || !strings.Contains(first, "@"+testHost+">\r\n\r\nbody\r\n") {
		t.Errorf("added fields wrong:\n%q", first)
	}
	if n := strings.Count(string(msgs[1]), "Date:"); n != 1 {
		t.Errorf("Date appears %d times", n)
	}
	if n := strings.Count(string(msgs[1]), "Message-ID:"); n != 1 {
		t.Errorf("Message-ID appears %d times", n)
	}
	if !strings.Contains(string(msgs[2]), ">\r\n\r\nnot a header line\r\n") {
		t.Errorf("empty line not added:\n%q", msgs[2])
	}
}

// Port 465: TLS from the first byte, AUTH offered, no STARTTLS.
func TestSubmissionTLS(t *testing.T) {
	h := newHarness(t, SubmissionTLS, nil)
	c := h.tlsClient("127.0.0.2")
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered on implicit TLS")
	}
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "PLAIN LOGIN" {
		t.Errorf("AUTH %v %q", ok, mechs)
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	msg := string(h.store.messages(bob)[0])
	if !strings.Contains(msg, "with ESMTPSA id") || !strings.Contains(msg, "\ttls TLS_") {
		t.Errorf("Received:\n%s", msg)
	}
	// A plain-text client on 465 gets nothing readable and is dropped.
	r := h.raw("")
	r.send("EHLO plain.example\r\n")
	r.expectClosed()
}

// The debug trace logs commands, never credentials (STYLE.md practice 10).
func TestNoCredentialsInLogs(t *testing.T) {
	h := newHarness(t, Submission, nil)
	r := h.raw("127.0.0.1")
	r.expect("220 ")
	r.send("EHLO c\r\n")
	r.reply()
	r.send("AUTH PLAIN " + plainIR("", alice, "wrong-secret-1") + "\r\n")
	r.expect("535")
	r.send("AUTH LOGIN\r\n")
	r.expect("334")
	r.send(b64(alice) + "\r\n")
	r.expect("334")
	r.send(b64("wrong-secret-2") + "\r\n")
	r.expect("535")
	r.send("AUTH PLAIN\r\n")
	r.expect("334")
	r.send(plainIR("", alice, alicePW) + "\r\n")
	r.expect("235")
	r.send("QUIT\r\n")
	r.expect("221")
	logs := h.logBuf.String()
	if !strings.Contains(logs, "AUTH PLAIN <redacted>") {
		t.Fatalf("trace missing (is debug logging on?):\n%s", logs)
	}
	for _, secret := range []string{"wrong-secret-1", "wrong-secret-2", alicePW, plainIR("", alice, "wrong-secret-1"), b64("wrong-secret-2"), plainIR("", alice, alicePW)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}
