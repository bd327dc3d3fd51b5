package dnsresolv

import (
	"context"
	"net/netip"
	"strings"
	"sync"
)

// Mock is a Resolver answering from maps, for tests. Names are keyed
// lower case without the final dot. A name in none of the maps is
// ErrNotFound; Fail makes a name (any question about it) fail with the
// given class (ErrTemporary for SERVFAIL, ErrNotFound for NXDOMAIN).
type Mock struct {
	MX   map[string][]MX
	IP   map[string][]netip.Addr
	TXT  map[string][]string
	PTR  map[string][]string // keyed by the address's String()
	Fail map[string]error

	mu      sync.Mutex
	Queries []string // "MX example.org", in order asked
}

var _ Resolver = (*Mock)(nil)

func (m *Mock) ask(qtype, name string) (string, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	m.mu.Lock()
	m.Queries = append(m.Queries, qtype+" "+name)
	m.mu.Unlock()
	if class, ok := m.Fail[name]; ok {
		return name, NewError(qtype, name, class, nil)
	}
	return name, nil
}

func answer[T any](qtype, name string, m map[string][]T) ([]T, error) {
	v := m[name]
	if len(v) == 0 {
		return nil, NewError(qtype, name, ErrNotFound, nil)
	}
	return append([]T(nil), v...), nil
}

// LookupMX implements Resolver.
func (m *Mock) LookupMX(_ context.Context, domain string) ([]MX, error) {
	name, err := m.ask("MX", domain)
	if err != nil {
		return nil, err
	}
	return answer("MX", name, m.MX)
}

// LookupIP implements Resolver.
func (m *Mock) LookupIP(_ context.Context, host string) ([]netip.Addr, error) {
	name, err := m.ask("A/AAAA", host)
	if err != nil {
		return nil, err
	}
	return answer("A/AAAA", name, m.IP)
}

// LookupTXT implements Resolver.
func (m *Mock) LookupTXT(_ context.Context, name string) ([]string, error) {
	n, err := m.ask("TXT", name)
	if err != nil {
		return nil, err
	}
	return answer("TXT", n, m.TXT)
}

// LookupPTR implements Resolver.
func (m *Mock) LookupPTR(_ context.Context, addr netip.Addr) ([]string, error) {
	name, err := m.ask("PTR", addr.String())
	if err != nil {
		return nil, err
	}
	return answer("PTR", name, m.PTR)
}
