package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleOptions configures an Authenticator. Zero values take the
// defaults of DESIGN.md section 5.
type ThrottleOptions struct {
	Now        func() time.Time                                 // nil: time.Now
	Sleep      func(ctx context.Context, d time.Duration) error // nil: a context-aware timer sleep; tests inject a recorder
	MaxDelay   time.Duration                                    // 0: 5s
	DelayStep  time.Duration                                    // 0: 1s  (each failure from an address adds this much, capped at MaxDelay)
	LockAfter  int                                              // 0: 10 failures for one account from one address ...
	Window     time.Duration                                    // 0: 15m ... within this window ...
	LockFor    time.Duration                                    // 0: 15m ... refuse that pair for this long
	MaxEntries int                                              // 0: 10000 tracked addresses/pairs; oldest evicted, memory bounded
}

// Authenticator adds DESIGN.md section 5 throttling to Store.Verify: each
// failure from an address adds DelayStep to the wait before that address's
// failures are answered (at most MaxDelay; the count restarts after a
// Window without failures); LockAfter failures for one account from one
// address within Window refuse that pair for LockFor. A success resets the
// pair and the address's delay. Other accounts and addresses are not
// affected, so an attacker cannot lock the family out from elsewhere.
//
// IPv6 clients are tracked by their /64, which one host can freely choose
// addresses from. State is in memory only and bounded by MaxEntries.
type Authenticator struct {
	store  *Store
	verify func(address, password string) (user, reason string, err error)
	opts   ThrottleOptions
	log    *slog.Logger

	mu    sync.Mutex
	addrs *lru[netip.Addr, *addrState]
	pairs *lru[pairKey, *pairState]
}

// addrState counts recent failures from one client address.
type addrState struct {
	failures int
	last     time.Time
}

// pairKey is one account as tried from one client address.
type pairKey struct {
	account string
	addr    netip.Addr
}

// pairState holds the times of the pair's recent failures (at most
// LockAfter) and, once locked, until when.
type pairState struct {
	failures    []time.Time
	lockedUntil time.Time
}

// NewAuthenticator returns an Authenticator checking passwords against s.
func NewAuthenticator(s *Store, opts ThrottleOptions) *Authenticator {
	opts = opts.withDefaults()
	return &Authenticator{
		store:  s,
		verify: s.verify,
		opts:   opts,
		log:    s.log,
		addrs:  newLRU[netip.Addr, *addrState](opts.MaxEntries),
		pairs:  newLRU[pairKey, *pairState](opts.MaxEntries),
	}
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepContext
	}
	setDefault(&o.MaxDelay, 5*time.Second)
	setDefault(&o.DelayStep, time.Second)
	setDefault(&o.LockAfter, 10)
	setDefault(&o.Window, 15*time.Minute)
	setDefault(&o.LockFor, 15*time.Minute)
	setDefault(&o.MaxEntries, 10000)
	return o
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Authenticate returns the canonical user. It waits the address's current
// delay before answering a failure (context-aware); a locked (account,
// address) pair gets ErrThrottled without checking the password; success
// resets the pair and the address's delay. Each failure is logged (user,
// remote address, reason), never the password.
func (a *Authenticator) Authenticate(ctx context.Context, remote netip.Addr, username, password string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	key := pairKey{account: accountKey(username), addr: clientKey(remote)}
	if until, delay, locked := a.checkLocked(key); locked {
		a.log.Warn("auth: login refused, too many failures",
			"user", logName(username), "remote", remote, "locked_until", until)
		return "", a.wait(ctx, delay, ErrThrottled)
	}
	user, reason, err := a.verify(username, password)
	if err == nil {
		a.succeeded(key)
		return user, nil
	}
	if !errors.Is(err, ErrBadCredentials) {
		// The user database failed; that is not the client's fault.
		return "", err
	}
	delay, failures, locked := a.failed(key)
	a.log.Warn("auth: login failed", "user", logName(username), "remote", remote,
		"reason", reason, "failures", failures, "delay", delay, "locked", locked)
	return "", a.wait(ctx, delay, ErrBadCredentials)
}

// wait sleeps for delay and then returns verdict, or verdict joined with
// the context's error when the wait was cut short.
func (a *Authenticator) wait(ctx context.Context, delay time.Duration, verdict error) error {
	if err := a.opts.Sleep(ctx, delay); err != nil {
		return fmt.Errorf("auth: %w (wait interrupted: %w)", verdict, err)
	}
	return verdict
}

// checkLocked reports whether the pair is locked, and the address's
// current delay, which a refused attempt also waits.
func (a *Authenticator) checkLocked(key pairKey) (until time.Time, delay time.Duration, locked bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.opts.Now()
	p, ok := a.pairs.get(key)
	if !ok || p.lockedUntil.IsZero() {
		return time.Time{}, 0, false
	}
	if !now.Before(p.lockedUntil) {
		a.pairs.remove(key) // the lock has run out: start afresh
		return time.Time{}, 0, false
	}
	return p.lockedUntil, a.delayLocked(key.addr, now), true
}

func (a *Authenticator) succeeded(key pairKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pairs.remove(key)
	a.addrs.remove(key.addr)
}

// failed records a failure and returns the delay to wait, the pair's
// failures within the window, and whether the pair is now locked.
func (a *Authenticator) failed(key pairKey) (time.Duration, int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.opts.Now()

	st, ok := a.addrs.get(key.addr)
	if !ok || now.Sub(st.last) >= a.opts.Window {
		st = &addrState{}
	}
	st.failures++
	st.last = now
	a.addrs.put(key.addr, st)

	p, ok := a.pairs.get(key)
	if !ok {
		p = &pairState{}
	}
	p.failures = append(recentFailures(p.failures, now, a.opts.Window), now)
	n := len(p.failures)
	locked := n >= a.opts.LockAfter
	if locked {
		p.lockedUntil = now.Add(a.opts.LockFor)
		p.failures = nil
	}
	a.pairs.put(key, p)
	return a.delayLocked(key.addr, now), n, locked
}

// delayLocked is the address's current delay; a.mu must be held.
func (a *Authenticator) delayLocked(addr netip.Addr, now time.Time) time.Duration {
	st, ok := a.addrs.get(addr)
	if !ok || now.Sub(st.last) >= a.opts.Window {
		return 0
	}
	return min(time.Duration(st.failures)*a.opts.DelayStep, a.opts.MaxDelay)
}

// recentFailures drops failures older than window. The slice is sorted.
func recentFailures(times []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= window {
		i++
	}
	return times[i:]
}

// accountKey names the account a login tries, the way Verify resolves it,
// so that case or +tag variants count against the same account.
func accountKey(username string) string {
	if n, err := Normalize(username); err == nil {
		return stripTag(n)
	}
	return logName(strings.ToLower(username))
}

// clientKey is the address a client is tracked by: IPv4 (also when mapped
// into IPv6) as it is, IPv6 by its /64.
func clientKey(addr netip.Addr) netip.Addr {
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return addr
}

// logName bounds a client-chosen user name before it is logged or kept.
func logName(username string) string {
	const max = 128
	if len(username) > max {
		return username[:max] + "..."
	}
	return username
}
