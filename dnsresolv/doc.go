// Package dnsresolv answers the MX, A/AAAA, TXT and PTR questions that
// outbound delivery and the `dns` command ask. It is filled in by the
// outbound-mail work; until then nothing imports it.
package dnsresolv
