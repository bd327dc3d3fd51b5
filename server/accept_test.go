package server

import (
	"errors"
	"net"
	"testing"
	"time"
)

// flakyListener fails its first Accepts with a temporary error.
type flakyListener struct {
	net.Listener
	fails int
}

type tempErr struct{}

func (tempErr) Error() string   { return "too many open files" }
func (tempErr) Timeout() bool   { return true }
func (tempErr) Temporary() bool { return true }

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, tempErr{}
	}
	return l.Listener.Accept()
}

func TestAcceptWaitsOutTemporaryErrorsAndEndsOnClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner, fails: 3}
	got := make(chan net.Conn, 1)
	done := make(chan error, 1)
	go func() { done <- Accept(ln, func(c net.Conn) { got <- c }) }()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case sc := <-got:
		sc.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("connection not handed over after temporary errors")
	}
	inner.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not end when the listener closed")
	}
}
