package auth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits from RFC 5321 §4.5.3.1; maxAddressLen also keeps hostile
// input from growing log lines and throttle keys.
const (
	maxLocalLen   = 64
	maxDomainLen  = 253
	maxLabelLen   = 63
	maxAddressLen = 320
)

// Normalize returns addr in the canonical form used for every comparison in
// this package: all lower case. It keeps a "+tag" (a forwarding target such
// as bob+lists@example.net must keep it); lookups strip it separately.
func Normalize(addr string) (string, error) {
	if len(addr) > maxAddressLen {
		return "", fmt.Errorf("auth: address %.40q...: longer than %d bytes: %w", addr, maxAddressLen, ErrBadAddress)
	}
	if !utf8.ValidString(addr) {
		return "", badAddress(addr, "not valid UTF-8")
	}
	lower := strings.ToLower(addr)
	local, domain, ok := strings.Cut(lower, "@")
	if !ok || strings.Contains(domain, "@") {
		return "", badAddress(addr, "needs exactly one @")
	}
	if reason := checkLocalPart(local); reason != "" {
		return "", badAddress(addr, reason)
	}
	if reason := checkDomain(domain); reason != "" {
		return "", badAddress(addr, reason)
	}
	return lower, nil
}

func badAddress(addr, reason string) error {
	return fmt.Errorf("auth: address %q: %s: %w", addr, reason, ErrBadAddress)
}

func checkLocalPart(local string) string {
	if local == "" {
		return "empty local part"
	}
	if len(local) > maxLocalLen {
		return fmt.Sprintf("local part longer than %d bytes", maxLocalLen)
	}
	for _, r := range local {
		switch {
		case unicode.IsSpace(r):
			return "space in local part"
		case unicode.IsControl(r):
			return "control character in local part"
		case r == ':' || r == ',':
			// They separate fields in the passwd and aliases files.
			return fmt.Sprintf("%q in local part", r)
		}
	}
	return ""
}

// checkDomain accepts LDH host names (IDNs in their xn-- form). A single
// label is allowed because home networks use names such as "home.arpa" or
// even "lan".
func checkDomain(domain string) string {
	if domain == "" {
		return "empty domain"
	}
	if len(domain) > maxDomainLen {
		return fmt.Sprintf("domain longer than %d bytes", maxDomainLen)
	}
	for _, label := range strings.Split(domain, ".") {
		if reason := checkLabel(label); reason != "" {
			return "domain: " + reason
		}
	}
	return ""
}

func checkLabel(label string) string {
	if label == "" {
		return "empty label"
	}
	if len(label) > maxLabelLen {
		return fmt.Sprintf("label longer than %d bytes", maxLabelLen)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return "label starts or ends with '-'"
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("%q in label", rune(c))
		}
	}
	return ""
}

// stripTag turns user+tag@domain into user@domain. An address whose local
// part starts with '+' is left alone: it has no user part to fall back to.
func stripTag(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	i := strings.IndexByte(local, '+')
	if i <= 0 {
		return addr
	}
	return local[:i] + "@" + domain
}

// domainOf returns the part after '@' of a normalized address.
func domainOf(addr string) string {
	_, domain, _ := strings.Cut(addr, "@")
	return domain
}

// normalizeName checks an address that is to become a user or alias name.
// Besides Normalize's rules it refuses '+' (lookups strip tags, so such a
// name could never be reached) and local parts that are unsafe as the
// directory name <mail_root>/<domain>/<localpart>.
func normalizeName(addr string) (string, error) {
	n, err := Normalize(addr)
	if err != nil {
		return "", err
	}
	if reason := checkMailboxName(n); reason != "" {
		return "", badAddress(addr, reason)
	}
	return n, nil
}

func checkMailboxName(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	if strings.ContainsRune(local, '+') {
		return "'+' is reserved for tags (user+tag@domain) and not allowed in a name"
	}
	return checkMailboxPath(addr)
}

// checkMailboxPath refuses imported user names that would not map to one
// directory under <mail_root>/<domain>/. Unlike names created here, an
// imported name may contain '+', which Lookup finds by exact match.
func checkMailboxPath(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	switch {
	case strings.ContainsAny(local, `/\`):
		return "'/' or '\\' in local part"
	case local == "." || local == "..":
		return "local part is a directory name"
	}
	return ""
}
