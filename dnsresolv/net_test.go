package dnsresolv

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLower answers like *net.Resolver: from maps, NXDOMAIN otherwise.
type fakeLower struct {
	mx    map[string][]*net.MX
	ip    map[string][]netip.Addr
	err   map[string]error
	block bool // wait for the context
	calls atomic.Int32
}

func (f *fakeLower) do(ctx context.Context, name string) error {
	f.calls.Add(1)
	if f.block {
		<-ctx.Done()
		return &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true}
	}
	if err, ok := f.err[name]; ok {
		return err
	}
	return nil
}

func nxdomain(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f *fakeLower) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if err := f.do(ctx, name); err != nil {
		return nil, err
	}
	if v, ok := f.mx[name]; ok {
		return v, nil
	}
	return nil, nxdomain(name)
}

func (f *fakeLower) LookupNetIP(ctx context.Context, _, name string) ([]netip.Addr, error) {
	if err := f.do(ctx, name); err != nil {
		return nil, err
	}
	if v, ok := f.ip[name]; ok {
		return slices.Clone(v), nil
	}
	return nil, nxdomain(name)
}

func (f *fakeLower) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := f.do(ctx, name); err != nil {
		return nil, err
	}
	if name == "example.org." {
		return []string{"v=spf1 -all"}, nil
	}
	return nil, nxdomain(name)
}

func (f *fakeLower) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if err := f.do(ctx, addr); err != nil {
		return nil, err
	}
	if addr == "127.0.0.1" {
		return []string{"localhost."}, nil
	}
	return nil, nxdomain(addr)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestNetAnswersAndCaches(t *testing.T) {
	f := &fakeLower{
		mx: map[string][]*net.MX{"example.org.": {{Host: "mx.example.org.", Pref: 10}}},
		ip: map[string][]netip.Addr{"mx.example.org.": loop},
	}
	c := &clock{t: time.Unix(1e9, 0)}
	r := New(Options{Lower: f, Now: c.now, CacheTTL: time.Minute})
	ctx := context.Background()
	for range 3 {
		mx, err := r.LookupMX(ctx, "example.org")
		if err != nil || len(mx) != 1 || mx[0] != (MX{Host: "mx.example.org", Pref: 10}) {
			t.Fatalf("MX %v, %v", mx, err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d lookups for three questions within the TTL, want 1", n)
	}
	c.t = c.t.Add(time.Minute)
	if _, err := r.LookupMX(ctx, "example.org."); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d lookups after the TTL, want 2", n)
	}
	if ips, err := r.LookupIP(ctx, "mx.example.org"); err != nil || !slices.Equal(ips, loop) {
		t.Fatalf("IP %v, %v", ips, err)
	}
	if txt, err := r.LookupTXT(ctx, "example.org"); err != nil || txt[0] != "v=spf1 -all" {
		t.Fatalf("TXT %v, %v", txt, err)
	}
	if ptr, err := r.LookupPTR(ctx, loop[0]); err != nil || !slices.Equal(ptr, []string{"localhost"}) {
		t.Fatalf("PTR %v, %v", ptr, err)
	}
}

func TestNetNullMXPassedThrough(t *testing.T) {
	f := &fakeLower{mx: map[string][]*net.MX{"example.org.": {{Host: ".", Pref: 0}}}}
	_, err := MXHosts(context.Background(), New(Options{Lower: f}), "example.org", nil)
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("null MX through Net: %v, want ErrPermanent", err)
	}
}

func TestNetClassifiesErrors(t *testing.T) {
	f := &fakeLower{
		err: map[string]error{
			"servfail.example.": &net.DNSError{Err: "server misbehaving", Name: "servfail.example", IsTemporary: true},
			"refused.example.":  errors.New("connection refused"),
		},
		ip: map[string][]netip.Addr{"implicit.example.": loop},
	}
	r := New(Options{Lower: f})
	ctx := context.Background()
	for name, want := range map[string]error{
		"servfail.example": ErrTemporary, "refused.example": ErrTemporary, "nx.example": ErrNotFound,
	} {
		if _, err := r.LookupMX(ctx, name); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	// A name whose MX lookup says "not found" but has an address: the
	// Go resolver reports NODATA like NXDOMAIN, and the address decides.
	hosts, err := MXHosts(ctx, r, "implicit.example", nil)
	if err != nil || !slices.Equal(hosts, []string{"implicit.example"}) {
		t.Fatalf("implicit MX through Net: %v, %v", hosts, err)
	}
	// Temporary failures are not cached; not-found answers are.
	before := f.calls.Load()
	r.LookupMX(ctx, "servfail.example")
	r.LookupMX(ctx, "nx.example")
	if d := f.calls.Load() - before; d != 1 {
		t.Fatalf("%d lookups, want 1 (SERVFAIL asked again, NXDOMAIN cached)", d)
	}
}

func TestNetTimeout(t *testing.T) {
	f := &fakeLower{block: true}
	r := New(Options{Lower: f, Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := r.LookupMX(context.Background(), "slow.example")
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("timeout: %v, want ErrTemporary", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("lookup took %v with a 50ms timeout", d)
	}
}

func TestCacheBounded(t *testing.T) {
	f := &fakeLower{ip: map[string][]netip.Addr{}}
	for i := range 50 {
		f.ip[string(rune('a'+i%26))+string(rune('a'+i/26))+".example."] = loop
	}
	r := New(Options{Lower: f, CacheSize: 10})
	for name := range f.ip {
		if _, err := r.LookupIP(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.cache.len(); n != 10 {
		t.Fatalf("cache holds %d entries, want its bound 10", n)
	}
}

func TestCacheAnswersAreCopies(t *testing.T) {
	f := &fakeLower{ip: map[string][]netip.Addr{"a.example.": loop}}
	r := New(Options{Lower: f})
	ips, _ := r.LookupIP(context.Background(), "a.example")
	ips[0] = netip.Addr{}
	again, _ := r.LookupIP(context.Background(), "a.example")
	if again[0] != loop[0] {
		t.Fatal("a caller's change to an answer reached the cache")
	}
}
