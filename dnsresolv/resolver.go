package dnsresolv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// Resolver is what maildird asks of DNS. Names may be given with or
// without the final dot; answers carry none.
type Resolver interface {
	// LookupMX returns the MX records of domain as published (unsorted);
	// ErrNotFound when the domain has none or does not exist.
	LookupMX(ctx context.Context, domain string) ([]MX, error)
	// LookupIP returns the A and AAAA addresses of host.
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
	// LookupTXT returns the TXT strings of name, one per record.
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupPTR returns the names an address points back to.
	LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error)
}

// MX is one mail exchanger record. Host "." is RFC 7505's null MX.
type MX struct {
	Host string
	Pref uint16
}

// The error classes every Resolver error wraps exactly one of.
var (
	// ErrNotFound: the name does not exist (NXDOMAIN) or has no record of
	// the asked type. Permanent for mail.
	ErrNotFound = errors.New("dnsresolv: not found")
	// ErrPermanent: a failure that asking again will not fix (null MX).
	ErrPermanent = errors.New("dnsresolv: permanent failure")
	// ErrTemporary: SERVFAIL, a timeout, no server reachable.
	ErrTemporary = errors.New("dnsresolv: temporary failure")
)

// IsPermanent reports whether err will not go away by asking again:
// ErrNotFound and ErrPermanent.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrPermanent)
}

// lookupError names the question and the class of the failure.
type lookupError struct {
	qtype, name string
	class       error // ErrNotFound, ErrPermanent or ErrTemporary
	err         error // the cause, may be nil
}

func (e *lookupError) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.qtype, e.name, e.class)
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *lookupError) Unwrap() []error {
	if e.err == nil {
		return []error{e.class}
	}
	return []error{e.class, e.err}
}

// NewError builds an error of a class (ErrNotFound, ErrPermanent or
// ErrTemporary) for a question; Mock and other fakes use it.
func NewError(qtype, name string, class, cause error) error {
	return &lookupError{qtype: qtype, name: name, class: class, err: cause}
}
