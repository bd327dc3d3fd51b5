package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Apple configuration profiles: Safari on an iPhone opening
// /apple.mobileconfig?email=... offers to install a mail account
// (payload type com.apple.mail.managed); Settings then asks only for the
// password. iOS installs a profile only when it is served as
// application/x-apple-aspen-config. The profile is not signed, so iOS shows
// it as "not verified"; it installs all the same.

const mobileconfigType = "application/x-apple-aspen-config"

func (s *Server) mobileconfig(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("email")
	addr, ok := s.address(raw)
	if !ok {
		s.badAddress(w, r, raw)
		return
	}
	incoming, ok := best(s.opts.Endpoints, IMAP)
	if !ok {
		incoming, ok = best(s.opts.Endpoints, POP3)
	}
	if !ok {
		http.Error(w, "this server has no IMAP or POP3 listener", http.StatusNotFound)
		return
	}
	_, domain, _ := strings.Cut(addr, "@")
	s.log.Debug("web: mobileconfig served", "address", addr, "remote", r.RemoteAddr)
	w.Header().Set("Content-Disposition", `attachment; filename="`+domain+`.mobileconfig"`)
	writeDoc(w, r, mobileconfigType, s.mobileconfigPlist(addr, incoming))
}

func (s *Server) mobileconfigPlist(addr string, incoming Endpoint) []byte {
	_, domain, _ := strings.Cut(addr, "@")
	// The identifiers and UUIDs derive from the hostname and the address,
	// so fetching the profile again replaces the installed one instead of
	// adding a second account.
	base := reverseDNS(s.opts.Hostname) + ".mail." + hashHex(addr)[:16]
	acctType := "EmailTypeIMAP"
	if incoming.Protocol == POP3 {
		acctType = "EmailTypePOP"
	}
	account := plistDict{
		{"EmailAccountDescription", addr},
		{"EmailAccountType", acctType},
		{"EmailAddress", addr},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", s.opts.Hostname},
		{"IncomingMailServerPortNumber", incoming.Port},
		{"IncomingMailServerUseSSL", incoming.Security == ImplicitTLS},
		{"IncomingMailServerUsername", addr},
	}
	if out, ok := best(s.opts.Endpoints, SMTP); ok {
		account = append(account, plistDict{
			{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
			{"OutgoingMailServerHostName", s.opts.Hostname},
			{"OutgoingMailServerPortNumber", out.Port},
			{"OutgoingMailServerUseSSL", out.Security == ImplicitTLS},
			{"OutgoingMailServerUsername", addr},
			{"OutgoingPasswordSameAsIncomingPassword", true},
		}...)
	}
	account = append(account, plistDict{
		{"PayloadDescription", "Mail account " + addr},
		{"PayloadDisplayName", addr},
		{"PayloadIdentifier", base + ".account"},
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadUUID", uuidFrom(addr, s.opts.Hostname, "account")},
		{"PayloadVersion", 1},
		{"PreventAppSheet", false},
		{"PreventMove", false},
		{"SMIMEEnabled", false},
	}...)
	profile := plistDict{
		{"PayloadContent", []any{account}},
		{"PayloadDescription", "Sets up the mail account " + addr + " on " + s.opts.Hostname + "."},
		{"PayloadDisplayName", "Mail: " + addr},
		{"PayloadIdentifier", base},
		{"PayloadOrganization", domain},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", uuidFrom(addr, s.opts.Hostname, "profile")},
		{"PayloadVersion", 1},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	writePlist(&b, profile, 0)
	b.WriteString("</plist>\n")
	return b.Bytes()
}

// plistDict is an ordered plist dictionary.
type plistDict []plistEntry

type plistEntry struct {
	key   string
	value any // string, int, bool, []any or plistDict
}

// writePlist writes v in Apple's XML property list format.
func writePlist(b *bytes.Buffer, v any, depth int) {
	indent := strings.Repeat("\t", depth)
	switch v := v.(type) {
	case string:
		b.WriteString(indent + "<string>")
		xml.EscapeText(b, []byte(v))
		b.WriteString("</string>\n")
	case int:
		fmt.Fprintf(b, "%s<integer>%d</integer>\n", indent, v)
	case bool:
		if v {
			b.WriteString(indent + "<true/>\n")
		} else {
			b.WriteString(indent + "<false/>\n")
		}
	case []any:
		b.WriteString(indent + "<array>\n")
		for _, e := range v {
			writePlist(b, e, depth+1)
		}
		b.WriteString(indent + "</array>\n")
	case plistDict:
		b.WriteString(indent + "<dict>\n")
		for _, e := range v {
			b.WriteString(indent + "\t<key>")
			xml.EscapeText(b, []byte(e.key))
			b.WriteString("</key>\n")
			writePlist(b, e.value, depth+1)
		}
		b.WriteString(indent + "</dict>\n")
	default:
		panic(fmt.Sprintf("web: no plist form for %T", v))
	}
}

// reverseDNS turns mail.example.org into org.example.mail, the form of
// profile identifiers.
func reverseDNS(host string) string {
	labels := strings.Split(host, ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

func hashHex(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// uuidFrom makes a stable name-based UUID (RFC 9562 version 8 layout)
// from parts.
func uuidFrom(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(u)
	return strings.ToUpper(x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32])
}
