package dnsresolv

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Options configures New. Zero values take the defaults.
type Options struct {
	// Timeout bounds every lookup (default 10 s).
	Timeout time.Duration
	// CacheTTL is how long an answer (or a "not found") is kept: the Go
	// resolver does not report record TTLs, so one bounded time stands in
	// for them (default 5 minutes). Temporary failures are never cached.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached answers (default 4096).
	CacheSize int
	// Lower answers the questions (default: Go's resolver, reading
	// /etc/resolv.conf). Tests give their own.
	Lower Lower
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Lower is the part of *net.Resolver that New builds on.
type Lower interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Net is the real Resolver.
type Net struct {
	lower   Lower
	timeout time.Duration
	cache   *cache
}

// New returns the real Resolver.
func New(opts Options) *Net {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Minute
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	if opts.Lower == nil {
		opts.Lower = &net.Resolver{PreferGo: true}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Net{lower: opts.Lower, timeout: opts.Timeout, cache: newCache(opts.CacheSize, opts.CacheTTL, opts.Now)}
}

// LookupMX implements Resolver.
func (n *Net) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	name := fqdn(domain)
	v, err := lookup(ctx, n, "MX", name, func(ctx context.Context) ([]MX, error) {
		recs, err := n.lower.LookupMX(ctx, name)
		if err != nil {
			return nil, err
		}
		out := make([]MX, 0, len(recs))
		for _, r := range recs {
			host := r.Host
			if host != "." {
				host = strings.TrimSuffix(host, ".")
			}
			out = append(out, MX{Host: host, Pref: r.Pref})
		}
		return out, nil
	})
	return v, err
}

// LookupIP implements Resolver.
func (n *Net) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	name := fqdn(host)
	return lookup(ctx, n, "A/AAAA", name, func(ctx context.Context) ([]netip.Addr, error) {
		return n.lower.LookupNetIP(ctx, "ip", name)
	})
}

// LookupTXT implements Resolver.
func (n *Net) LookupTXT(ctx context.Context, name string) ([]string, error) {
	q := fqdn(name)
	return lookup(ctx, n, "TXT", q, func(ctx context.Context) ([]string, error) {
		return n.lower.LookupTXT(ctx, q)
	})
}

// LookupPTR implements Resolver.
func (n *Net) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	return lookup(ctx, n, "PTR", addr.String(), func(ctx context.Context) ([]string, error) {
		names, err := n.lower.LookupAddr(ctx, addr.String())
		for i := range names {
			names[i] = strings.TrimSuffix(names[i], ".")
		}
		return names, err
	})
}

// lookup asks through the cache with the timeout, and classifies errors.
func lookup[T any](ctx context.Context, n *Net, qtype, name string, ask func(context.Context) ([]T, error)) ([]T, error) {
	key := qtype + " " + strings.ToLower(name)
	if v, err, ok := n.cache.get(key); ok {
		if err != nil {
			return nil, err
		}
		return append([]T(nil), v.([]T)...), nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	v, err := ask(ctx)
	if err == nil && len(v) == 0 {
		err = &net.DNSError{Err: "no records", Name: name, IsNotFound: true}
	}
	if err != nil {
		err = classify(qtype, strings.TrimSuffix(name, "."), err, ctx.Err())
		if errors.Is(err, ErrNotFound) {
			n.cache.put(key, nil, err)
		}
		return nil, err
	}
	n.cache.put(key, append([]T(nil), v...), nil)
	return v, nil
}

// classify maps the net package's errors to the three classes: NXDOMAIN
// and "no such record" are ErrNotFound; everything else (SERVFAIL,
// timeouts, refused, no server) is ErrTemporary.
func classify(qtype, name string, err, ctxErr error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return NewError(qtype, name, ErrNotFound, err)
	}
	if ctxErr != nil {
		return NewError(qtype, name, ErrTemporary, ctxErr)
	}
	return NewError(qtype, name, ErrTemporary, err)
}

// fqdn makes name absolute, so the resolver's search list never applies.
func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
