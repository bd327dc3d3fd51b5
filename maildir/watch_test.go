package maildir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func waitReturns(t *testing.T, m *Mailbox, within time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return m.Wait(ctx)
}

func TestWaitInProcessBroadcast(t *testing.T) {
	s, _ := newBoxStore(t)
	s.noInotify = true // only the broadcast can wake it quickly
	a := boxOpen(t, s, "INBOX")
	b := boxOpen(t, s, "INBOX")
	b.pollEvery = time.Hour
	done := make(chan error, 1)
	go func() { done <- waitReturns(t, b, 10*time.Second) }()
	time.Sleep(20 * time.Millisecond)
	if _, err := a.Append(strings.NewReader("x\n"), 0, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after an in-process append")
	}
	if ch := boxSync(t, b); len(ch.New) != 1 {
		t.Fatalf("changes %+v", ch)
	}
}

func TestWaitInotifyExternalDrop(t *testing.T) {
	s, _ := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	m.pollEvery = time.Hour
	done := make(chan error, 1)
	go func() { done <- waitReturns(t, m, 10*time.Second) }()
	time.Sleep(50 * time.Millisecond)
	os.WriteFile(filepath.Join(boxInboxDir(t, s), "new", "dropped"), []byte("x\n"), 0o600)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not see a file dropped into new/")
	}
}

func TestWaitPollingAndCancel(t *testing.T) {
	s, _ := newBoxStore(t)
	s.noInotify = true
	m := boxOpen(t, s, "INBOX")
	m.pollEvery = 10 * time.Millisecond
	if err := waitReturns(t, m, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle wait: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- waitReturns(t, m, 10*time.Second) }()
	time.Sleep(30 * time.Millisecond)
	os.WriteFile(filepath.Join(boxInboxDir(t, s), "cur", "dropped:2,"), []byte("x\n"), 0o600)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("polling did not notice the change")
	}
	// Something changed since the last Sync: Wait returns at once.
	if err := waitReturns(t, m, time.Second); err != nil {
		t.Fatal(err)
	}
	boxSync(t, m)
	go func() { done <- waitReturns(t, m, 10*time.Second) }()
	time.Sleep(20 * time.Millisecond)
	m.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end Wait")
	}
}
