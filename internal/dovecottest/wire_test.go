package dovecottest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// ioTimeout bounds every exchange with Dovecot in these tests.
const ioTimeout = 10 * time.Second

// imapConn is a minimal IMAP client: enough to drive Dovecot through the
// commands these tests need, with every byte on the wire visible here.
type imapConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

func dialIMAP(t testing.TB, addr string) *imapConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial IMAP %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &imapConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.line(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("IMAP greeting %q", g)
	}
	return c
}

func (c *imapConn) line() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("IMAP read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// do sends one command (with an optional LITERAL+ literal appended) and
// returns the untagged lines and the tagged status line.
func (c *imapConn) do(cmd string, literal []byte) (untagged []string, status string) {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("a%d", c.tag)
	out := tag + " " + cmd
	if literal != nil {
		out += fmt.Sprintf(" {%d+}\r\n%s", len(literal), literal)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.conn.Write([]byte(out + "\r\n")); err != nil {
		c.t.Fatalf("IMAP write %q: %v", cmd, err)
	}
	for range 10000 {
		l := c.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, l)
	}
	c.t.Fatalf("IMAP %q: no tagged reply", cmd)
	return nil, ""
}

// ok runs cmd and fails the test unless Dovecot answers OK.
func (c *imapConn) ok(cmd string, literal []byte) (untagged []string, status string) {
	c.t.Helper()
	untagged, status = c.do(cmd, literal)
	if !strings.HasPrefix(status, "OK") {
		c.t.Fatalf("IMAP %q: %s", cmd, status)
	}
	return untagged, status
}

// pop3Conn is a minimal POP3 client.
type pop3Conn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialPOP3(t testing.TB, addr string) *pop3Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial POP3 %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &pop3Conn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := p.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("POP3 greeting %q", g)
	}
	return p
}

func (p *pop3Conn) line() string {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("POP3 read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// ok sends cmd and fails the test unless the reply is +OK.
func (p *pop3Conn) ok(cmd string) string {
	p.t.Helper()
	_ = p.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := p.conn.Write([]byte(cmd + "\r\n")); err != nil {
		p.t.Fatalf("POP3 write %q: %v", cmd, err)
	}
	l := p.line()
	if !strings.HasPrefix(l, "+OK") {
		p.t.Fatalf("POP3 %q: %s", cmd, l)
	}
	return l
}

// multi sends a command with a multi-line answer and returns its lines
// without the terminating ".".
func (p *pop3Conn) multi(cmd string) []string {
	p.t.Helper()
	p.ok(cmd)
	var lines []string
	for range 10000 {
		l := p.line()
		if l == "." {
			return lines
		}
		lines = append(lines, strings.TrimPrefix(l, "."))
	}
	p.t.Fatalf("POP3 %q: no terminating line", cmd)
	return nil
}
