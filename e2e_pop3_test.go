package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maildird/maildird/maildir"
)

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestServePOP3 runs the binary with POP3 on and checks the whole path:
// a user added while the server runs can log in within DESIGN.md's 5
// seconds, mail dropped into the Maildir is served over POP3S and STLS,
// and DELE+QUIT removes it from disk.
func TestServePOP3(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	s, ports := serveOnFreePorts(t, cfg, "pop3", "pop3s")
	pop3Port, pop3sPort := ports["pop3"], ports["pop3s"]
	if l := s.waitFor(t, "service=pop3 "); !strings.Contains(l, "addr=127.0.0.1:"+pop3Port) || strings.Contains(l, "status=") {
		t.Fatalf("pop3 listener line %q", l)
	}

	add := exec.Command(binPath, "-config", cfg, "user", "add", "alice@example.org")
	add.Stdin = strings.NewReader("pop secret\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	store, err := maildir.Open(maildir.Options{Root: filepath.Join(dataDir, "mail")})
	if err != nil {
		t.Fatal(err)
	}
	msg := "Subject: hello\r\n\r\n.a line with a dot\r\nbye\r\n"
	for range 3 {
		if _, err := store.Deliver("alice@example.org", "", strings.NewReader(msg), 0); err != nil {
			t.Fatal(err)
		}
	}

	conn := dialPOP3S(t, "127.0.0.1:"+pop3sPort)
	var status string
	for deadline := time.Now().Add(5 * time.Second); ; {
		conn.send("USER alice@example.org")
		conn.expect("+OK")
		conn.send("PASS pop secret")
		if status = conn.line(); strings.HasPrefix(status, "+OK") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.HasPrefix(status, "+OK logged in; 3 messages") {
		t.Fatalf("login of a user added while running: %q", status)
	}
	conn.send("RETR 2")
	conn.expect("+OK " + fmt.Sprint(len(msg)) + " octets")
	var got []string
	for l := conn.line(); l != "."; l = conn.line() {
		got = append(got, strings.TrimPrefix(l, "."))
	}
	if strings.Join(got, "\r\n")+"\r\n" != msg {
		t.Errorf("RETR gave %q", got)
	}
	conn.send("DELE 1")
	conn.expect("+OK")
	conn.send("QUIT")
	conn.expect("+OK bye (2 messages left)")

	mb, err := store.OpenMailbox("alice@example.org", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if n := mb.Len(); n != 2 {
		t.Errorf("%d messages left on disk, want 2", n)
	}
	mb.Close()

	// The plain port offers STLS and, to another address, no USER.
	plain, err := net.DialTimeout("tcp", "127.0.0.1:"+pop3Port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	r := bufio.NewReader(plain)
	plain.SetDeadline(time.Now().Add(10 * time.Second))
	if g, _ := r.ReadString('\n'); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	fmt.Fprintf(plain, "CAPA\r\n")
	var caps []string
	for l, _ := r.ReadString('\n'); l != ".\r\n" && l != ""; l, _ = r.ReadString('\n') {
		caps = append(caps, strings.TrimSpace(l))
	}
	if !strings.Contains(strings.Join(caps, ","), "STLS") {
		t.Errorf("CAPA on the plain port lacks STLS: %q", caps)
	}
	s.stop(t, syscall.SIGTERM)
}

type popConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialPOP3S(t *testing.T, addr string) *popConn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &popConn{t: t, c: c, r: bufio.NewReader(c)}
	p.expect("+OK")
	return p
}

func (p *popConn) send(line string) {
	p.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(p.c, "%s\r\n", line)
}

func (p *popConn) line() string {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func (p *popConn) expect(prefix string) {
	p.t.Helper()
	if l := p.line(); !strings.HasPrefix(l, prefix) {
		p.t.Fatalf("got %q, want %q", l, prefix)
	}
}
