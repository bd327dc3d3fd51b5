package imap

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestFlushConnCloseWaitsForAFlushUnderWay: Close while the timer's flush
// holds the connection must still deliver what was written (the BYE and
// tagged OK of LOGOUT), not close under it.
func TestFlushConnCloseWaitsForAFlushUnderWay(t *testing.T) {
	server, client := net.Pipe()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- string(b)
	}()
	f := newFlushConn(server)
	if _, err := f.Write([]byte("* BYE Logging out\r\na1 OK LOGOUT completed\r\n")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock() // as the timer's flush does
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	time.Sleep(50 * time.Millisecond)
	f.mu.Unlock()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case s := <-got:
		if s != "* BYE Logging out\r\na1 OK LOGOUT completed\r\n" {
			t.Errorf("the client got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client saw no end of the connection")
	}
}

// TestFlushConnCloseIsBoundedWhenTheClientStopsReading: a client that
// never reads cannot hold Close up for long.
func TestFlushConnCloseIsBoundedWhenTheClientStopsReading(t *testing.T) {
	server, client := net.Pipe() // nobody reads client
	defer client.Close()
	f := newFlushConn(server)
	f.Write([]byte("pending\r\n"))
	start := time.Now()
	f.Close()
	if d := time.Since(start); d > closeFlushTimeout+2*time.Second {
		t.Errorf("Close took %v", d)
	}
}
