// Package dnsresolv answers the MX, A/AAAA, TXT and PTR questions that
// outbound delivery and the `dns` command ask.
//
// Resolver is the interface the rest of maildird uses; New returns the
// real one (Go's own resolver reading /etc/resolv.conf, which also works
// in static builds), with a timeout on every lookup and a bounded cache,
// and Mock is the fake for tests. MXHosts applies the rules of RFC 5321
// §5.1 and RFC 7505 on top of any Resolver.
//
// Errors are classified once, here: a lookup error wraps ErrNotFound
// (NXDOMAIN, or the name has no record of that type), ErrPermanent (a
// failure that retrying will not fix) or ErrTemporary (SERVFAIL, timeouts,
// an unreachable server). The queue retries the temporary ones and
// bounces the permanent ones.
package dnsresolv
