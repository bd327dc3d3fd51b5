package dnsresolv

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
)

// MXHosts returns the hosts to try for mail to domain, in order, by the
// rules of RFC 5321 §5.1:
//
//   - MX records sorted by preference, lowest first; records of equal
//     preference in random order, to spread the load (shuffle may be nil
//     for math/rand; tests pass their own);
//   - no MX records at all: the domain itself is the only host (the
//     "implicit MX"), if it has an A or AAAA address;
//   - a single MX of "." is RFC 7505's null MX: the domain takes no mail,
//     ErrPermanent at once. A "." among other records is ignored;
//   - a domain that does not exist (or has neither MX nor address) is
//     ErrNotFound, permanent; SERVFAIL and timeouts are ErrTemporary.
func MXHosts(ctx context.Context, r Resolver, domain string, shuffle func(n int, swap func(i, j int))) ([]string, error) {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	if shuffle == nil {
		shuffle = rand.Shuffle
	}
	mxs, err := r.LookupMX(ctx, domain)
	if errors.Is(err, ErrNotFound) {
		return implicitMX(ctx, r, domain)
	}
	if err != nil {
		return nil, err
	}
	if len(mxs) == 1 && isNullMX(mxs[0].Host) {
		return nil, NewError("MX", domain, ErrPermanent, errors.New("null MX (RFC 7505): the domain accepts no mail"))
	}
	mxs = slices.DeleteFunc(slices.Clone(mxs), func(m MX) bool { return isNullMX(m.Host) })
	if len(mxs) == 0 {
		return implicitMX(ctx, r, domain)
	}
	slices.SortStableFunc(mxs, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	for i := 0; i < len(mxs); {
		j := i + 1
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		group := mxs[i:j]
		shuffle(len(group), func(a, b int) { group[a], group[b] = group[b], group[a] })
		i = j
	}
	hosts := make([]string, 0, len(mxs))
	for _, m := range mxs {
		h := strings.TrimSuffix(strings.ToLower(m.Host), ".")
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

func isNullMX(host string) bool { return host == "." || host == "" }

// implicitMX is RFC 5321 §5.1: without MX records, the domain's own
// address records make it its own mail exchanger.
func implicitMX(ctx context.Context, r Resolver, domain string) ([]string, error) {
	if _, err := r.LookupIP(ctx, domain); err != nil {
		return nil, err
	}
	return []string{domain}, nil
}
