package maildir

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSubscribeDovecotFormat(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Family/Photos", "Über", "Zeta")
	for _, n := range []string{"Family/Photos", "Über"} {
		if err := s.Subscribe(alice, n); err != nil {
			t.Fatal(err)
		}
	}
	// The bytes Dovecot 2.3 wrote after the same two SUBSCRIBEs (FORMATS.md).
	want := "V\t2\n\nFamily\tPhotos\n&ANw-ber\n"
	path := userDir(t, s, subscriptionsName)
	if got := readFile(t, path); got != want {
		t.Errorf("subscriptions = %q; want %q", got, want)
	}
	// Subscribing again changes nothing.
	if err := s.Subscribe(alice, "Family/Photos"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != want {
		t.Errorf("after a repeated SUBSCRIBE: %q", got)
	}
	for _, n := range []string{"Family/Photos", "Über", "Zeta"} {
		if err := s.Unsubscribe(alice, n); err != nil {
			t.Fatal(err)
		}
	}
	// With nothing subscribed Dovecot keeps the 5-byte header.
	if got := readFile(t, path); got != "V\t2\n\n" {
		t.Errorf("after unsubscribing all: %q", got)
	}
	if _, err := os.Stat(userDir(t, s, subscriptionsLockName)); !os.IsNotExist(err) {
		t.Errorf("lock left behind: %v", err)
	}
}

func TestSubscribeErrors(t *testing.T) {
	s := newTestStore(t)
	// Dovecot 2.3: "NO Mailbox doesn't exist: Zeta".
	if err := s.Subscribe(alice, "Zeta"); !errors.Is(err, ErrNoSuchFolder) {
		t.Errorf("Subscribe(Zeta) = %v; want ErrNoSuchFolder", err)
	}
	mustCreate(t, s, "a/b")
	if err := s.Subscribe(alice, "a"); !errors.Is(err, ErrNoSuchFolder) {
		t.Errorf("Subscribe of an implied parent = %v; want ErrNoSuchFolder", err)
	}
	for _, n := range []string{"../x", "", "a.b", "/etc"} {
		if err := s.Subscribe(alice, n); !errors.Is(err, ErrBadFolderName) {
			t.Errorf("Subscribe(%q) = %v; want ErrBadFolderName", n, err)
		}
		if err := s.Unsubscribe(alice, n); !errors.Is(err, ErrBadFolderName) {
			t.Errorf("Unsubscribe(%q) = %v; want ErrBadFolderName", n, err)
		}
	}
	// Unsubscribing what is not subscribed, or without a file, is fine
	// and creates nothing.
	if err := s.Unsubscribe(alice, "Zeta"); err != nil {
		t.Errorf("Unsubscribe(Zeta) = %v", err)
	}
	if _, err := os.Stat(userDir(t, s, subscriptionsName)); !os.IsNotExist(err) {
		t.Errorf("Unsubscribe created the file: %v", err)
	}
	if err := s.Unsubscribe("nobody@example.org", "Zeta"); err != nil {
		t.Errorf("Unsubscribe for a user without mail = %v", err)
	}
}

func TestSubscribeInbox(t *testing.T) {
	s := newTestStore(t)
	if err := s.Subscribe("new@example.org", "inbox"); err != nil {
		t.Fatal(err)
	}
	subs, err := s.Subscriptions("new@example.org")
	if err != nil || !slices.Equal(subs, []string{"INBOX"}) {
		t.Errorf("Subscriptions = %q, %v", subs, err)
	}
}

// A subscription outlives its folder, and Subscriptions reports it.
func TestSubscriptionsOfDeletedFolder(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Gone")
	if err := s.Subscribe(alice, "Gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFolder(alice, "Gone"); err != nil {
		t.Fatal(err)
	}
	subs, err := s.Subscriptions(alice)
	if err != nil || !slices.Equal(subs, []string{"Gone"}) {
		t.Errorf("Subscriptions = %q, %v", subs, err)
	}
	checkFolders(t, s, "INBOX")
}

func TestParseSubscriptions(t *testing.T) {
	tests := []struct {
		name, data string
		want       []subscription
	}{
		{"v2", "V\t2\n\nFamily\tPhotos\n&ANw-ber\n", []subscription{{name: "Family/Photos"}, {name: "Über"}}},
		{"v2 empty", "V\t2\n\n", nil},
		{"v2 no final newline", "V\t2\n\nA\nB", []subscription{{name: "A"}, {name: "B"}}},
		{"v2 inbox case", "V\t2\n\ninbox\ninbox\tx\n", []subscription{{name: "INBOX"}, {name: "INBOX/x"}}},
		{"v2 duplicates", "V\t2\n\nA\nA\n", []subscription{{name: "A"}}},
		{"v2 slash is not a separator", "V\t2\n\na/b\n", []subscription{{raw: "a/b"}}},
		{"old slash", "Family/Photos\n&ANw-ber\n", []subscription{{name: "Family/Photos"}, {name: "Über"}}},
		{"old dot", "Family.Photos\nINBOX\n", []subscription{{name: "Family/Photos"}, {name: "INBOX"}}},
		{"empty lines", "\n\nA\n\n", []subscription{{name: "A"}}},
		{"kept raw", "V\t2\n\n&Jjo\nshared\x01tx\nA\t\tB\n../x\n", []subscription{
			{raw: "&Jjo"}, {raw: "shared\x01tx"}, {raw: "A\t\tB"}, {raw: "../x"},
		}},
		{"old raw", "a\\b\n", []subscription{{raw: "a\\b"}}},
	}
	for _, tt := range tests {
		got := parseSubscriptions([]byte(tt.data))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: parseSubscriptions(%q) = %q; want %q", tt.name, tt.data, got, tt.want)
		}
	}
}

// An old-format file is rewritten in version 2 at the next change, keeping
// lines it does not understand.
func TestSubscriptionsUpgradeOldFormat(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Family/Photos", "New")
	path := userDir(t, s, subscriptionsName)
	if err := os.WriteFile(path, []byte("Family.Photos\n#shared/x&\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "Family+-", "Family/Photos*", "New")
	if err := s.Subscribe(alice, "New"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "V\t2\n\nFamily\tPhotos\n#shared/x&\nNew\n" {
		t.Errorf("subscriptions = %q", got)
	}
}

func TestRenameSubscriptionsMerge(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "A", "A/x")
	for _, n := range []string{"A", "A/x"} {
		if err := s.Subscribe(alice, n); err != nil {
			t.Fatal(err)
		}
	}
	// B was subscribed before it was deleted; the rename must not list it twice.
	root := userDir(t, s)
	if err := s.updateSubscriptions(root, func(subs []subscription) ([]subscription, bool) {
		return append(subs, subscription{name: "B"}), true
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameFolder(alice, "A", "B"); err != nil {
		t.Fatal(err)
	}
	subs, _ := s.Subscriptions(alice)
	slices.Sort(subs)
	if !slices.Equal(subs, []string{"B", "B/x"}) {
		t.Errorf("Subscriptions = %q", subs)
	}
}

// Many writers at once lose no subscription: the lock serializes the
// read-modify-write.
func TestSubscribeConcurrent(t *testing.T) {
	s := newTestStore(t)
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	mustCreate(t, s, names...)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			if err := s.Subscribe(alice, n); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	subs, _ := s.Subscriptions(alice)
	slices.Sort(subs)
	if !slices.Equal(subs, names) {
		t.Errorf("Subscriptions = %q", subs)
	}
}

func TestSubscriptionsLock(t *testing.T) {
	s, err := Open(Options{
		Root:        t.TempDir(),
		LockTimeout: 100 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "A")
	lock := userDir(t, s, subscriptionsLockName)
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A fresh lock held by someone else: wait, then give up.
	if err := s.Subscribe(alice, "A"); !errors.Is(err, ErrLocked) {
		t.Errorf("Subscribe under a live lock = %v; want ErrLocked", err)
	}
	// A stale one is broken.
	past := time.Now().Add(-2 * subscriptionsStaleAfter)
	if err := os.Chtimes(lock, past, past); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe(alice, "A"); err != nil {
		t.Errorf("Subscribe under a stale lock = %v", err)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("lock left behind: %v", err)
	}
}

func TestSubscriptionsTooBig(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "A")
	path := userDir(t, s, subscriptionsName)
	if err := os.WriteFile(path, make([]byte, subscriptionsMaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscriptions(alice); err == nil {
		t.Error("Subscriptions of a huge file: no error")
	}
	if err := s.Subscribe(alice, "A"); err == nil {
		t.Error("Subscribe with a huge file: no error")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), subscriptionsLockName)); !os.IsNotExist(err) {
		t.Errorf("lock left behind after an error: %v", err)
	}
}
