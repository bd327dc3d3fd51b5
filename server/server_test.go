package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mdtls "github.com/maildird/maildird/tls"
)

// greeter is a Service that writes "hello\n" and then echoes lines.
type greeter struct {
	mu       sync.Mutex
	ln       net.Listener
	shutdown bool
}

func (g *greeter) Serve(ln net.Listener) error {
	g.mu.Lock()
	g.ln = ln
	g.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			io.WriteString(c, "hello\n")
			io.Copy(c, c)
		}()
	}
}

func (g *greeter) Shutdown(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shutdown = true
	if g.ln != nil {
		return g.ln.Close()
	}
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func greeting(t *testing.T, c net.Conn) (string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

func TestPerAddressLimit(t *testing.T) {
	g := New(Options{MaxConnsPerIP: 2, Logger: quiet()})
	svc := &greeter{}
	if err := g.Start([]Listener{{Name: "test", Addr: "127.0.0.1:0", Service: svc}}); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	addr := g.Addrs()[0].String()

	var open []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if l, err := greeting(t, c); l != "hello\n" {
			t.Fatalf("connection %d: %q %v", i, l, err)
		}
		open = append(open, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if l, err := greeting(t, third); err == nil {
		t.Fatalf("third connection from one address was served: %q", l)
	}

	// Closing one makes room again.
	open[0].Close()
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := greeting(t, c)
		c.Close()
		if l == "hello\n" {
			break
		}
		if i == 50 {
			t.Fatal("no room after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBindErrorNamesListenerAndServesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	g := New(Options{Logger: quiet()})
	first := &greeter{}
	err = g.Start([]Listener{
		{Name: "imap", Addr: "127.0.0.1:0", Service: first},
		{Name: "pop3", Addr: taken.Addr().String(), Service: &greeter{}},
	})
	if err == nil || !strings.Contains(err.Error(), "pop3 on "+taken.Addr().String()) || !strings.Contains(err.Error(), "another program") {
		t.Fatalf("err = %v", err)
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if first.ln != nil {
		t.Error("a listener was served although another could not be bound")
	}
}

func TestImplicitTLSAndShutdown(t *testing.T) {
	cert, err := mdtls.LoadOrCreateSelfSigned(t.TempDir(), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g := New(Options{Logger: quiet()})
	svc := &greeter{}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if err := g.Start([]Listener{{Name: "imaps", Addr: "127.0.0.1:0", Service: svc, TLS: cfg}}); err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", g.Addrs()[0].String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := greeting(t, c); l != "hello\n" {
		t.Fatalf("over TLS: %q %v", l, err)
	}
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !svc.shutdown {
		t.Error("service not shut down")
	}
	if _, err := net.DialTimeout("tcp", g.Addrs()[0].String(), time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

func TestClientKeyGroupsIPv6By64(t *testing.T) {
	a, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1")})
	b, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9")})
	c, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1")})
	d, _ := clientKey(&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1")})
	if a != b || a == c || d.Bits() != 32 {
		t.Errorf("keys %v %v %v %v", a, b, c, d)
	}
	if _, ok := clientKey(&net.UnixAddr{}); ok {
		t.Error("unix address has a key")
	}
}
