package imap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawClient speaks IMAP as bytes, so two servers' answers can be compared
// byte for byte.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	n    int
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	c.readLine() // greeting
	return c
}

// readLine reads one response line with the literals it announces.
func (c *rawClient) readLine() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (have %q)", err, b.String()+line)
		}
		b.WriteString(line)
		trim := strings.TrimSuffix(line, "\r\n")
		if !strings.HasSuffix(trim, "}") {
			return b.String()
		}
		i := strings.LastIndexByte(trim, '{')
		n, err := strconv.Atoi(strings.TrimSuffix(trim[i+1:], "}"))
		if i < 0 || err != nil {
			return b.String()
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		b.Write(buf)
	}
}

// do sends one command and returns every line up to the tagged one.
func (c *rawClient) do(cmd string) []string {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, cmd); err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for {
		l := c.readLine()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}
