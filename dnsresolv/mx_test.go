package dnsresolv

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

var loop = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

func noShuffle(int, func(i, j int)) {}

// reverse is a shuffle that reverses each group, so a test can see that
// equal preferences were handed to the shuffle and nothing else was.
func reverse(n int, swap func(i, j int)) {
	for i := 0; i < n/2; i++ {
		swap(i, n-1-i)
	}
}

func TestMXSortedByPreference(t *testing.T) {
	m := &Mock{MX: map[string][]MX{"example.org": {
		{Host: "c.example.org.", Pref: 30}, {Host: "A.example.org", Pref: 10}, {Host: "b.example.org", Pref: 20},
	}}}
	got, err := MXHosts(context.Background(), m, "Example.ORG.", noShuffle)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example.org", "b.example.org", "c.example.org"}; !slices.Equal(got, want) {
		t.Fatalf("hosts %v, want %v", got, want)
	}
}

func TestMXEqualPreferencesShuffledOnlyWithinGroup(t *testing.T) {
	m := &Mock{MX: map[string][]MX{"example.org": {
		{Host: "a1", Pref: 10}, {Host: "b1", Pref: 20}, {Host: "a2", Pref: 10}, {Host: "b2", Pref: 20}, {Host: "a3", Pref: 10},
	}}}
	got, err := MXHosts(context.Background(), m, "example.org", reverse)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a3", "a2", "a1", "b2", "b1"}; !slices.Equal(got, want) {
		t.Fatalf("hosts %v, want %v", got, want)
	}
	// With the real shuffle, every order of the equal group turns up and
	// the higher preference always comes last.
	seen := map[string]bool{}
	for range 200 {
		got, err := MXHosts(context.Background(), m, "example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(slices.Sorted(slices.Values(got[3:])), []string{"b1", "b2"}) {
			t.Fatalf("preference 20 not last: %v", got)
		}
		seen[got[0]+got[1]+got[2]] = true
	}
	if len(seen) != 6 {
		t.Fatalf("saw %d of the 6 orders of three equal MX: %v", len(seen), seen)
	}
}

func TestImplicitMX(t *testing.T) {
	m := &Mock{IP: map[string][]netip.Addr{"example.org": loop}}
	got, err := MXHosts(context.Background(), m, "example.org", noShuffle)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"example.org"}) {
		t.Fatalf("hosts %v, want the domain itself", got)
	}
}

func TestNullMXIsPermanent(t *testing.T) {
	m := &Mock{
		MX: map[string][]MX{"example.org": {{Host: ".", Pref: 0}}},
		IP: map[string][]netip.Addr{"example.org": loop}, // never used as implicit MX
	}
	_, err := MXHosts(context.Background(), m, "example.org", noShuffle)
	if !errors.Is(err, ErrPermanent) || !IsPermanent(err) {
		t.Fatalf("null MX: %v, want ErrPermanent", err)
	}
}

func TestNullMXAmongOthersIgnored(t *testing.T) {
	m := &Mock{MX: map[string][]MX{"example.org": {{Host: ".", Pref: 0}, {Host: "mx.example.org", Pref: 10}}}}
	got, err := MXHosts(context.Background(), m, "example.org", noShuffle)
	if err != nil || !slices.Equal(got, []string{"mx.example.org"}) {
		t.Fatalf("hosts %v, %v; want [mx.example.org]", got, err)
	}
}

func TestNXDOMAINIsPermanent(t *testing.T) {
	m := &Mock{Fail: map[string]error{"nowhere.example": ErrNotFound}}
	_, err := MXHosts(context.Background(), m, "nowhere.example", noShuffle)
	if !errors.Is(err, ErrNotFound) || !IsPermanent(err) {
		t.Fatalf("NXDOMAIN: %v, want permanent ErrNotFound", err)
	}
	// Neither MX nor address: permanent too.
	_, err = MXHosts(context.Background(), &Mock{}, "empty.example", noShuffle)
	if !IsPermanent(err) {
		t.Fatalf("no MX, no address: %v, want permanent", err)
	}
}

func TestSERVFAILIsTemporary(t *testing.T) {
	m := &Mock{Fail: map[string]error{"broken.example": ErrTemporary}}
	_, err := MXHosts(context.Background(), m, "broken.example", noShuffle)
	if !errors.Is(err, ErrTemporary) || IsPermanent(err) {
		t.Fatalf("SERVFAIL: %v, want ErrTemporary", err)
	}
	// No MX, and the address lookup fails temporarily: temporary.
	m = &Mock{Fail: map[string]error{}}
	m.Fail["half.example"] = ErrTemporary
	_, err = implicitMX(context.Background(), m, "half.example")
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("implicit MX lookup failure: %v, want ErrTemporary", err)
	}
}

func TestDuplicateMXHostsTriedOnce(t *testing.T) {
	m := &Mock{MX: map[string][]MX{"example.org": {{Host: "mx", Pref: 10}, {Host: "MX.", Pref: 20}}}}
	got, _ := MXHosts(context.Background(), m, "example.org", noShuffle)
	if !slices.Equal(got, []string{"mx"}) {
		t.Fatalf("hosts %v, want [mx]", got)
	}
}
