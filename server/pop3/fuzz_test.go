package pop3

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// FuzzSession drives a whole session with arbitrary client bytes: the
// server must neither panic nor hang, and must leave no goroutine behind.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"CAPA\r\nQUIT\r\n",
		"USER alice@example.org\r\nPASS secret pw\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
		"AUTH PLAIN\r\nAGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldCBwdw==\r\nRETR 3\r\nNOOP\r\nQUIT\r\n",
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldCBwdw==\r\nTOP 1 0\r\nDELE 9\r\n",
		"STLS\r\n", "GET / HTTP/1.0\r\n\r\n", "\r\n\r\n\x00\xff", "USER a\nPASS b\n",
	} {
		f.Add([]byte(seed))
	}
	store := &fakeStore{validity: 7, msgs: map[string][]fakeMsg{}}
	for _, m := range []string{msg1, msg2, msg3} {
		store.add("alice@example.org", m)
	}
	srv := New(Options{
		Store: store, Auth: &fakeAuth{users: map[string]string{"alice@example.org": "secret pw"}},
		AllowPlaintext: true, MaxErrors: 1000, IdleTimeout: 2 * time.Second, Logger: quietLogger(),
	})
	f.Fuzz(func(t *testing.T, input []byte) {
		before := runtime.NumGoroutine()
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			newSession(srv, server).serve()
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(input)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end after the client went away")
		}
		store.mu.Lock()
		store.msgs["alice@example.org"] = nil
		store.mu.Unlock()
		for _, m := range []string{msg1, msg2, msg3} {
			store.add("alice@example.org", m)
		}
		for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Fatalf("%d goroutines left behind", n-before)
		}
	})
}
