package main

import (
	"net/smtp"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSMTPToPOP3 is the whole local path through the binary: a
// message handed to the MX port lands in the user's Maildir and comes out
// of POP3 with a Received header, and relaying is refused.
func TestServeSMTPToPOP3(t *testing.T) {
	cfg, _ := writeConfig(t, "")
	add := exec.Command(binPath, "-config", cfg, "user", "add", "alice@example.org")
	add.Stdin = strings.NewReader("smtp secret\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	s, ports := serveOnFreePorts(t, cfg, "smtp", "pop3s")
	smtpPort, pop3sPort := ports["smtp"], ports["pop3s"]
	if l := s.waitFor(t, "service=smtp "); strings.Contains(l, "status=") {
		t.Fatalf("smtp listener line %q", l)
	}
	s.waitFor(t, "service=pop3s ")

	msg := "From: bob@example.net\r\nTo: alice@example.org\r\nSubject: over SMTP\r\nMessage-ID: <1@example.net>\r\nDate: Wed, 2 Dec 2026 10:00:00 +0000\r\n\r\nHello Alice.\r\n"
	addr := "127.0.0.1:" + smtpPort
	if err := sendPlain(addr, "bob@example.net", "alice+news@example.org", msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := sendPlain(addr, "bob@example.net", "carol@elsewhere.example", msg); err == nil || !strings.Contains(err.Error(), "5.7.1") {
		t.Errorf("relay attempt: %v, want a 5.7.1 refusal", err)
	}

	conn := dialPOP3S(t, "127.0.0.1:"+pop3sPort)
	conn.send("USER alice@example.org")
	conn.expect("+OK")
	conn.send("PASS smtp secret")
	conn.expect("+OK logged in; 1 messages")
	conn.send("RETR 1")
	conn.expect("+OK")
	var got []string
	for l := conn.line(); l != "."; l = conn.line() {
		got = append(got, strings.TrimPrefix(l, "."))
	}
	body := strings.Join(got, "\r\n") + "\r\n"
	if !strings.HasPrefix(body, "Return-Path: <bob@example.net>\r\nReceived: from ") || !strings.HasSuffix(body, msg) {
		t.Errorf("delivered message:\n%s", body)
	}
	conn.send("QUIT")
	conn.expect("+OK")

	// SIGTERM with a connection open: the server says goodbye and exits.
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.stop(t, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Noop() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("connection still served after shutdown")
		}
	case <-time.After(10 * time.Second):
		t.Error("open SMTP connection hung after shutdown")
	}
}

// sendPlain sends one message without STARTTLS, as a plain MX peer may.
func sendPlain(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
