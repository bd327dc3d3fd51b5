package smtp

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needTool finds a real client; without it the test is skipped, except
// under CI, where a missing tool is a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// swaks, Debian's SMTP test tool, against each mode: plain, STARTTLS,
// implicit TLS, AUTH PLAIN and LOGIN, pipelining.
func TestSwaks(t *testing.T) {
	swaks := needTool(t, "swaks")
	if out, err := runTool(t, swaks, "--support"); err != nil || !strings.Contains(out, "=== TLS supported") {
		// Debian's swaks only recommends the Perl TLS modules.
		msg := "swaks lacks TLS support (install libnet-ssleay-perl and libio-socket-ssl-perl): " + out
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	mx := newHarness(t, MX, nil)
	sub := newHarness(t, Submission, nil)
	subs := newHarness(t, SubmissionTLS, nil)
	cases := []struct {
		name   string
		h      *harness
		args   []string
		ok     bool
		rcpt   string
		header string // X-Test value when ok, else text swaks must print
	}{
		{"mx-plain", mx, []string{"--from", "x@example.net", "--to", alice}, true, alice, "swaks-mx-plain"},
		{"mx-starttls", mx, []string{"--from", "x@example.net", "--to", bob, "--tls"}, true, bob, "swaks-mx-starttls"},
		{"mx-pipeline", mx, []string{"--from", "x@example.net", "--to", "family@example.org", "--pipeline"}, true, bob, "swaks-mx-pipeline"},
		{"mx-relay-refused", mx, []string{"--from", "x@example.net", "--to", "v@elsewhere.example"}, false, "", "554 5.7.1 Relay access denied"},
		{"sub-plain-remote-refused", sub, []string{"-li", "127.0.0.2", "--from", alice, "--to", bob,
			"--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW}, false, "", "Host did not advertise authentication"},
		{"sub-starttls-plain", sub, []string{"-li", "127.0.0.2", "--tls", "--from", alice, "--to", bob,
			"--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW, "--header", "From: alice@example.org"}, true, bob, "swaks-sub-starttls-plain"},
		{"sub-starttls-login-pipeline", sub, []string{"-li", "127.0.0.2", "--tls", "--pipeline", "--from", alice, "--to", bob,
			"--auth", "LOGIN", "--auth-user", alice, "--auth-password", alicePW, "--header", "From: alice@example.org"}, true, bob, "swaks-sub-starttls-login-pipeline"},
		{"sub-bad-password", sub, []string{"--tls", "--from", alice, "--to", bob,
			"--auth", "LOGIN", "--auth-user", alice, "--auth-password", "wrong"}, false, "", "535 5.7.8 Authentication credentials invalid"},
		{"subs-implicit-tls", subs, []string{"-li", "127.0.0.2", "--tlsc", "--from", alice, "--to", bob,
			"--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePW, "--header", "From: alice@example.org"}, true, bob, "swaks-subs-implicit-tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.h.store.messages(tc.rcpt))
			args := append([]string{"--server", "127.0.0.1", "--port", port(tc.h.addr), "--helo", "swaks.example.net",
				"--timeout", "20", "--header", "X-Test: " + tc.header, "--body", "Body from swaks\n.dot line\n"}, tc.args...)
			out, err := runTool(t, swaks, args...)
			if tc.ok != (err == nil) {
				t.Fatalf("swaks: err %v, want ok=%v\n%s", err, tc.ok, out)
			}
			if !tc.ok {
				if !strings.Contains(out, tc.header) {
					t.Errorf("swaks output lacks %q:\n%s", tc.header, out)
				}
				return
			}
			msgs := tc.h.store.messages(tc.rcpt)
			if len(msgs) != before+1 {
				t.Fatalf("%d messages for %s, want %d\n%s", len(msgs), tc.rcpt, before+1, out)
			}
			got := string(msgs[len(msgs)-1])
			for _, want := range []string{"X-Test: " + tc.header + "\r\n", "\r\nBody from swaks\r\n.dot line\r\n", "Received: from swaks.example.net"} {
				if !strings.Contains(got, want) {
					t.Errorf("message lacks %q:\n%s", want, got)
				}
			}
		})
	}
}

const pythonClient = `
import smtplib, ssl, sys, os
from email.message import EmailMessage
host, port, mode = "127.0.0.1", int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = EmailMessage()
msg["From"] = "alice@example.org"
msg["To"] = "bob@example.org"
msg["Subject"] = "python " + mode
msg.set_content("Grüße from smtplib\n.leading dot\n")
src = ("127.0.0.2", 0)
if mode == "465":
    s = smtplib.SMTP_SSL(host, port, context=ctx, source_address=src, timeout=20)
else:
    s = smtplib.SMTP(host, port, source_address=src, timeout=20)
    s.starttls(context=ctx)
s.ehlo("python.example.net")
if mode != "mx":
    s.login("alice@example.org", "alice secret")
s.send_message(msg, from_addr="alice@example.org", to_addrs=["bob@example.org"])
try:
    s.sendmail("alice@example.org", ["bob@example.org"], "From: bob@example.org\r\n\r\nforged\r\n")
    print("forged message accepted")
    sys.exit(3 if mode != "mx" else 0)
except smtplib.SMTPDataError as e:
    print("refused", e.smtp_code)
    if mode == "mx":
        sys.exit(4)
s.quit()
`

// python3's smtplib: STARTTLS on 25 and 587, implicit TLS on 465, login,
// send_message; on submission a forged header From is refused.
func TestPythonSmtplib(t *testing.T) {
	py := needTool(t, "python3")
	for _, mode := range []Mode{MX, Submission, SubmissionTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, mode, nil)
			arg := map[Mode]string{MX: "mx", Submission: "587", SubmissionTLS: "465"}[mode]
			out, err := runTool(t, py, "-c", pythonClient, port(h.addr), arg)
			if err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			want := 1
			if mode == MX {
				want = 2
			}
			msgs := h.store.messages(bob)
			if len(msgs) != want {
				t.Fatalf("%d messages, want %d\n%s", len(msgs), want, out)
			}
			got := string(msgs[0])
			if !strings.Contains(got, "Subject: python "+arg+"\r\n") || !strings.Contains(got, "\r\n.leading dot\r\n") || !strings.Contains(got, "\ttls TLS_") {
				t.Errorf("message:\n%s", got)
			}
		})
	}
}
