package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// pipeListener hands out in-memory connections (net.Pipe).
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func (l *pipeListener) dial() (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-time.After(5 * time.Second):
		return nil, errors.New("pipe listener: accept timed out")
	}
}

// fuzzSeeds are the client sides of the dialogue scripts, one input each.
func fuzzSeeds(tb testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/*.dialog")
	var seeds [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		var b strings.Builder
		for _, l := range strings.Split(string(data), "\n") {
			switch {
			case strings.HasPrefix(l, "c: "):
				b.WriteString(l[3:] + "\r\n")
			case strings.HasPrefix(l, `c" `):
				if s, err := strconv.Unquote(`"` + l[3:] + `"`); err == nil {
					b.WriteString(s)
				}
			}
		}
		seeds = append(seeds, []byte(b.String()))
	}
	return seeds
}

// FuzzConnection drives one whole connection with arbitrary client bytes,
// then checks that the server still works (a normal transaction on the
// next connection succeeds), shuts down cleanly, and leaves no goroutine
// behind.
func FuzzConnection(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint8(i%2))
	}
	f.Add([]byte("EHLO x\r\nAUTH PLAIN\r\n"+plainIR("", alice, alicePW)+"\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nBDAT 5\r\nabcdeBDAT 3 LAST\r\nxyz"), uint8(1))
	f.Add([]byte("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nSubject: x\n\n.\n..\r\n.\r\nRSET\r\nSTARTTLS\r\n\x16\x03\x01"), uint8(0))
	f.Add([]byte("EHLO x\r\nAUTH LOGIN\r\n*\r\nAUTH LOGIN\r\nYQ==\r\n\r\nQUIT\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, modeByte uint8) {
		mode := Mode(modeByte % 2) // MX or Submission; 465 only adds a TLS handshake
		before := runtime.NumGoroutine()
		opts, store, _, _ := baseOptions(t, mode)
		opts.AllowPlaintext = true // pipes have no addresses
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		opts.Limits.CommandTimeout = 2 * time.Second
		opts.Limits.DataTimeout = 2 * time.Second
		opts.Limits.MaxMessageSize = 64 << 10
		srv := New(opts)
		ln := newPipeListener()
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()

		c, err := ln.dial()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, c); close(drained) }()
		c.Write(data)
		c.Close()
		<-drained

		normalTransaction(t, ln, mode, store)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		waitGoroutines(t, before)
	})
}

// normalTransaction sends one message on a new connection.
func normalTransaction(t *testing.T, ln *pipeListener, mode Mode, store *fakeStore) {
	t.Helper()
	conn, err := ln.dial()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := gosmtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("after.example"); err != nil {
		t.Fatalf("server unusable after fuzzed connection: %v", err)
	}
	from := "x@example.net"
	if mode.submission() {
		from = alice
		if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
	}
	// The fuzzed connection may still be committing its own messages to
	// bob: look for this one by its content.
	if err := send(c, from, []string{bob}, "From: alice@example.org\r\nSubject: after\r\n\r\nstill fine after the fuzzed connection\r\n"); err != nil {
		t.Fatalf("transaction after fuzzed connection: %v", err)
	}
	found := false
	for _, m := range store.messages(bob) {
		found = found || strings.HasSuffix(string(m), "\r\n\r\nstill fine after the fuzzed connection\r\n")
	}
	if !found {
		t.Fatal("message not stored")
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

// waitGoroutines waits (bounded) until no more goroutines run than before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The same checks on implicit TLS, with a few inputs (the fuzzer itself
// would spend its time in the TLS record layer).
func TestConnectionSurvivesGarbageOnImplicitTLS(t *testing.T) {
	before := runtime.NumGoroutine()
	opts, store, _, _ := baseOptions(t, SubmissionTLS)
	_, clientTLS := testTLS(t)
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(opts)
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for _, in := range [][]byte{nil, []byte("EHLO x\r\n"), []byte("\x16\x03\x01\x00\x05hello"), []byte("GET / HTTP/1.1\r\n\r\n")} {
		c, err := ln.dial()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { io.Copy(io.Discard, c) }()
		c.Write(in)
		c.Close()
	}
	conn, err := ln.dial()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := gosmtp.NewClient(tls.Client(conn, clientTLS))
	if err := c.Hello("x"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePW)); err != nil {
		t.Fatal(err)
	}
	if err := send(c, alice, []string{bob}, "From: alice@example.org\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if len(store.messages(bob)) != 1 {
		t.Fatal("not stored")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, before)
}
