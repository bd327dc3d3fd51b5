package web

import (
	"net"
	"strconv"
)

// Protocol is a mail protocol the documents announce.
type Protocol string

// Protocols.
const (
	IMAP Protocol = "imap"
	POP3 Protocol = "pop3"
	SMTP Protocol = "smtp" // submission: 465 and 587, never the MX port 25
)

// Security is how a client secures an endpoint.
type Security int

// Securities, best first.
const (
	ImplicitTLS Security = iota // TLS from the first byte (993, 995, 465)
	STARTTLS                    // plain connect, then STARTTLS/STLS (143, 110, 587)
	Plain                       // no TLS at all ([tls] mode = off)
)

// Endpoint is one listener a client may use.
type Endpoint struct {
	Protocol Protocol
	Port     int
	Security Security
}

// EndpointFor maps a served [listen] entry to the endpoint clients are told
// about. ok is false for listeners clients do not configure (smtp, http).
// tlsOn is whether maildird has TLS at all; without it the plain ports are
// announced as plain.
func EndpointFor(name, addr string, tlsOn bool) (e Endpoint, ok bool) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return Endpoint{}, false
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return Endpoint{}, false
	}
	plain := STARTTLS
	if !tlsOn {
		plain = Plain
	}
	switch name {
	case "imaps":
		return Endpoint{IMAP, port, ImplicitTLS}, tlsOn
	case "imap":
		return Endpoint{IMAP, port, plain}, true
	case "pop3s":
		return Endpoint{POP3, port, ImplicitTLS}, tlsOn
	case "pop3":
		return Endpoint{POP3, port, plain}, true
	case "submissions":
		return Endpoint{SMTP, port, ImplicitTLS}, tlsOn
	case "submission":
		return Endpoint{SMTP, port, plain}, true
	}
	return Endpoint{}, false
}

// endpointsOf returns the endpoints of one protocol, best security first
// and otherwise in the given order.
func endpointsOf(all []Endpoint, p Protocol) []Endpoint {
	var out []Endpoint
	for sec := ImplicitTLS; sec <= Plain; sec++ {
		for _, e := range all {
			if e.Protocol == p && e.Security == sec {
				out = append(out, e)
			}
		}
	}
	return out
}

// best returns the preferred endpoint of protocol p.
func best(all []Endpoint, p Protocol) (Endpoint, bool) {
	if es := endpointsOf(all, p); len(es) > 0 {
		return es[0], true
	}
	return Endpoint{}, false
}
