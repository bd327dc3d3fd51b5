package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injected clock; tests move it forward by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sleepRecorder replaces the real sleep: it records each requested delay
// and returns at once, so no test really waits.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

// last returns the most recent delay and clears the record.
func (r *sleepRecorder) last(t *testing.T) time.Duration {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.delays) == 0 {
		t.Fatal("no sleep recorded")
	}
	d := r.delays[len(r.delays)-1]
	r.delays = nil
	return d
}

func (r *sleepRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.delays)
}

type throttleFixture struct {
	auth     *Authenticator
	clock    *fakeClock
	sleeps   *sleepRecorder
	logs     *logBuffer
	verifies int // calls that reached the password check
}

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("198.51.100.7")
)

func newThrottleFixture(t *testing.T, opts ThrottleOptions) *throttleFixture {
	t.Helper()
	s, logs := openTest(t, t.TempDir(), "example.org")
	mustAddUser(t, s, "alice@example.org", "alice-pw")
	mustAddUser(t, s, "bob@example.org", "bob-pw")
	f := &throttleFixture{
		clock:  &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		sleeps: &sleepRecorder{},
		logs:   logs,
	}
	opts.Now, opts.Sleep = f.clock.Now, f.sleeps.Sleep
	f.auth = NewAuthenticator(s, opts)
	inner := f.auth.verify
	f.auth.verify = func(address, password string) (string, string, error) {
		f.verifies++
		return inner(address, password)
	}
	return f
}

func (f *throttleFixture) login(remote netip.Addr, user, password string) (string, error) {
	return f.auth.Authenticate(context.Background(), remote, user, password)
}

func (f *throttleFixture) mustFail(t *testing.T, remote netip.Addr, user string, want error) {
	t.Helper()
	if u, err := f.login(remote, user, "wrong"); !errors.Is(err, want) || u != "" {
		t.Fatalf("login(%s, %s, wrong) = %q, %v; want %v", remote, user, u, err, want)
	}
}

func (f *throttleFixture) mustSucceed(t *testing.T, remote netip.Addr, user, password string) {
	t.Helper()
	if u, err := f.login(remote, user, password); err != nil || u != user {
		t.Fatalf("login(%s, %s) = %q, %v; want success", remote, user, u, err)
	}
}

// Statement 1: each failure from an address adds a delay, at most 5 s, and
// another address is unaffected.
func TestThrottleDelayGrowsPerAddress(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	want := []time.Duration{1, 2, 3, 4, 5, 5, 5}
	for i, w := range want {
		user := "alice@example.org"
		if i%2 == 1 {
			user = "nobody@example.org" // the delay is per address, whatever the account
		}
		f.mustFail(t, addrA, user, ErrBadCredentials)
		if got := f.sleeps.last(t); got != w*time.Second {
			t.Errorf("failure %d from A waited %v; want %v", i+1, got, w*time.Second)
		}
		f.clock.advance(10 * time.Second)
	}
	f.mustFail(t, addrB, "alice@example.org", ErrBadCredentials)
	if got := f.sleeps.last(t); got != time.Second {
		t.Errorf("first failure from B waited %v; want 1s", got)
	}
	// A success does not wait.
	f.mustSucceed(t, addrB, "bob@example.org", "bob-pw")
	if n := f.sleeps.count(); n != 0 {
		t.Errorf("a success slept %d times", n)
	}
}

// Statement 2: 10 failures for one account from one address within the
// window lock that pair for 15 minutes, without checking the password.
func TestThrottleLocksPair(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	for range 10 {
		f.mustFail(t, addrA, "alice@example.org", ErrBadCredentials)
		f.clock.advance(time.Minute)
	}
	checked := f.verifies
	if _, err := f.login(addrA, "alice@example.org", "alice-pw"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("right password on a locked pair = %v; want ErrThrottled", err)
	}
	if _, err := f.login(addrA, "Alice+x@EXAMPLE.org", "alice-pw"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("case/tag variant on a locked pair = %v; want ErrThrottled", err)
	}
	if f.verifies != checked {
		t.Error("a locked pair still had its password checked")
	}
	if !strings.Contains(f.logs.String(), "too many failures") {
		t.Error("refusal not logged")
	}

	// Statement 4: other accounts and other addresses are unaffected.
	f.mustSucceed(t, addrA, "bob@example.org", "bob-pw")
	f.mustSucceed(t, addrB, "alice@example.org", "alice-pw")

	// Still locked just before 15 minutes, free at 15 minutes.
	f.clock.advance(15*time.Minute - time.Minute - time.Second)
	if _, err := f.login(addrA, "alice@example.org", "alice-pw"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("pair unlocked early: %v", err)
	}
	f.clock.advance(time.Second)
	f.mustSucceed(t, addrA, "alice@example.org", "alice-pw")
}

// Failures spread over more than the window do not lock.
func TestThrottleWindow(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	for range 9 {
		f.mustFail(t, addrA, "alice@example.org", ErrBadCredentials)
	}
	f.clock.advance(15*time.Minute + time.Second)
	for range 9 {
		f.mustFail(t, addrA, "alice@example.org", ErrBadCredentials)
	}
	f.mustSucceed(t, addrA, "alice@example.org", "alice-pw")
}

// Statement 3: a success resets the pair's count and the address's delay.
func TestThrottleSuccessResets(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	for range 9 {
		f.mustFail(t, addrA, "alice@example.org", ErrBadCredentials)
	}
	if got := f.sleeps.last(t); got != 5*time.Second {
		t.Fatalf("delay before success %v; want 5s", got)
	}
	f.mustSucceed(t, addrA, "alice@example.org", "alice-pw")
	f.mustFail(t, addrA, "alice@example.org", ErrBadCredentials)
	if got := f.sleeps.last(t); got != time.Second {
		t.Errorf("delay after a success %v; want 1s (reset)", got)
	}
	for range 8 {
		f.mustFail(t, addrA, "alice@example.org", ErrBadCredentials)
	}
	// 9 failures since the success: not locked.
	f.mustSucceed(t, addrA, "alice@example.org", "alice-pw")
}

// The address's delay also ends after a window without failures.
func TestThrottleDelayDecays(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	for range 3 {
		f.mustFail(t, addrA, "nobody@example.org", ErrBadCredentials)
	}
	f.clock.advance(15 * time.Minute)
	f.mustFail(t, addrA, "nobody@example.org", ErrBadCredentials)
	if got := f.sleeps.last(t); got != time.Second {
		t.Errorf("delay after a quiet window %v; want 1s", got)
	}
}

func TestThrottleCustomOptionsAndIPv6(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{DelayStep: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond, LockAfter: 2, LockFor: time.Minute})
	v6a := netip.MustParseAddr("2001:db8:1:2::1")
	v6b := netip.MustParseAddr("2001:db8:1:2:ffff::9") // same /64
	v6c := netip.MustParseAddr("2001:db8:1:3::1")      // another /64
	f.mustFail(t, v6a, "alice@example.org", ErrBadCredentials)
	if got := f.sleeps.last(t); got != 100*time.Millisecond {
		t.Errorf("delay %v; want 100ms", got)
	}
	f.mustFail(t, v6b, "alice@example.org", ErrBadCredentials)
	f.mustFail(t, v6a, "alice@example.org", ErrThrottled)
	if got := f.sleeps.last(t); got != 200*time.Millisecond {
		t.Errorf("delay on a refused attempt %v; want the address's 200ms", got)
	}
	f.mustSucceed(t, v6c, "alice@example.org", "alice-pw")
	// IPv4-mapped IPv6 is the same client as plain IPv4.
	mapped := netip.AddrFrom16(addrA.As16())
	f.mustFail(t, mapped, "bob@example.org", ErrBadCredentials)
	f.mustFail(t, addrA, "bob@example.org", ErrBadCredentials)
	f.mustFail(t, mapped, "bob@example.org", ErrThrottled)
	f.clock.advance(time.Minute)
	f.mustSucceed(t, addrA, "bob@example.org", "bob-pw")
}

// MaxEntries bounds memory: the least recently used entries are dropped.
func TestThrottleMaxEntries(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{MaxEntries: 3})
	for i := range 50 {
		f.mustFail(t, netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)}), "alice@example.org", ErrBadCredentials)
	}
	f.auth.mu.Lock()
	addrs, pairs := f.auth.addrs.len(), f.auth.pairs.len()
	f.auth.mu.Unlock()
	if addrs != 3 || pairs != 3 {
		t.Errorf("tracking %d addresses, %d pairs; want 3 each", addrs, pairs)
	}
	// 10.0.0.0 was evicted first, so its next failure starts over at 1s.
	f.mustFail(t, netip.AddrFrom4([4]byte{10, 0, 0, 0}), "alice@example.org", ErrBadCredentials)
	if got := f.sleeps.last(t); got != time.Second {
		t.Errorf("evicted address waited %v; want 1s", got)
	}
}

func TestThrottleLogsWithoutPassword(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	if _, err := f.login(addrA, "alice@example.org", "Sup3rSecretTry"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	if _, err := f.login(addrA, "ghost@example.org", "Sup3rSecretTry"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	out := f.logs.String()
	for _, want := range []string{"user=alice@example.org", "remote=192.0.2.1", `reason="wrong password"`, "user=ghost@example.org", `reason="no such user"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Sup3rSecretTry") {
		t.Errorf("password in the log:\n%s", out)
	}
}

func TestAuthenticateContext(t *testing.T) {
	s, _ := openTest(t, t.TempDir(), "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	a := NewAuthenticator(s, ThrottleOptions{}) // the real, context-aware sleep
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Authenticate(ctx, addrA, "alice@example.org", "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context = %v", err)
	}

	// A cancel during the wait ends it early and reports both facts.
	ctx, cancel = context.WithCancel(context.Background())
	a = NewAuthenticator(s, ThrottleOptions{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepContext(ctx, d)
	}})
	start := time.Now()
	_, err := a.Authenticate(ctx, addrA, "alice@example.org", "wrong")
	if !errors.Is(err, ErrBadCredentials) || !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted wait = %v; want ErrBadCredentials and context.Canceled", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Error("the wait was not interrupted")
	}
}

func TestSleepContext(t *testing.T) {
	if err := sleepContext(context.Background(), 0); err != nil {
		t.Error(err)
	}
	if err := sleepContext(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepContext after cancel = %v", err)
	}
}

func TestAuthenticateConcurrent(t *testing.T) {
	f := newThrottleFixture(t, ThrottleOptions{})
	f.auth.verify = f.auth.store.verify // the counting wrapper is not goroutine-safe
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			remote := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
			for range 3 {
				_, _ = f.login(remote, "alice@example.org", "wrong")
			}
			if _, err := f.login(remote, "bob@example.org", "bob-pw"); err != nil {
				t.Errorf("bob from %s: %v", remote, err)
			}
		}()
	}
	wg.Wait()
}
