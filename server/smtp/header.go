package smtp

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/netip"
	"strings"
	"time"
)

// maxFromField bounds the From field kept for the submission check.
const maxFromField = 8 << 10

type headerVerdict int

const (
	headerMore headerVerdict = iota // still in the header
	headerEnd                       // this line is the first after the header
	headerLoop                      // too many Received fields
)

// headerScan follows the header section (RFC 5322 §2.2) line by line
// without keeping it: it counts Received fields (RFC 5321 §6.3 loop
// detection) and notes Date, Message-ID and From for submission.
type headerScan struct {
	inHeader     bool
	maxHops      int
	keepFrom     bool
	hops         int
	field        string // lower-case name of the field being read
	hasDate      bool
	hasMessageID bool
	sawNonHeader bool
}

// fromField collects the From field(s) for the submission check.
type fromField struct {
	count    int
	value    []byte
	tooLarge bool
}

func (h *headerScan) init(maxHops int, keepFrom bool) {
	*h = headerScan{inHeader: true, maxHops: maxHops, keepFrom: keepFrom}
}

// feed takes one line (CRLF-terminated) or a piece of a long line.
func (h *headerScan) feed(line []byte, midLine bool, from *fromField) headerVerdict {
	switch {
	case midLine, len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
		// More of the current field (a folded line or a long one).
		if h.field == "from" && h.keepFrom {
			from.add(line)
		}
		return headerMore
	case bytes.Equal(line, []byte("\r\n")):
		return headerEnd
	}
	name, ok := fieldName(line)
	if !ok {
		h.sawNonHeader = true
		return headerEnd
	}
	h.field = strings.ToLower(name)
	switch h.field {
	case "received":
		h.hops++
		if h.hops > h.maxHops {
			return headerLoop
		}
	case "date":
		h.hasDate = true
	case "message-id":
		h.hasMessageID = true
	case "from":
		if h.keepFrom {
			from.count++
			from.add(line[len(name)+1:])
		}
	}
	return headerMore
}

// fieldName returns the name of a header field line: printable ASCII
// except ':' up to the colon (RFC 5322 §2.2; the obsolete space before the
// colon is not accepted).
func fieldName(line []byte) (string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", false
	}
	for _, c := range line[:i] {
		if c < 33 || c > 126 {
			return "", false
		}
	}
	return string(line[:i]), true
}

func (f *fromField) add(b []byte) {
	if len(f.value)+len(b) > maxFromField {
		f.tooLarge = true
		return
	}
	f.value = append(f.value, b...)
}

// missingFields returns the Date and Message-ID fields submission adds
// when the message has none (RFC 6409 §8.2, §8.3).
func (h *headerScan) missingFields(now time.Time, host string) string {
	var b strings.Builder
	if !h.hasDate {
		b.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	}
	if !h.hasMessageID {
		b.WriteString("Message-ID: <" + newID() + newID() + "@" + host + ">\r\n")
	}
	return b.String()
}

// checkHeaderFrom applies the MAIL FROM rule to the From field: exactly
// one, parseable, and every address in it owned by the user. The reply is
// 550, since RFC 5321 §4.3.2 lists no 553 after DATA.
func (ss *session) checkHeaderFrom(from fromField) error {
	switch {
	case from.count == 0:
		return replyErr(550, enhMissingHeader, "Message has no From header field")
	case from.count > 1 || from.tooLarge:
		return replyErr(550, enhMissingHeader, "Message must have exactly one From header field")
	}
	value := strings.NewReplacer("\r\n", "", "\n", "").Replace(string(from.value))
	parser := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		// Display names do not matter here: accept any charset undecoded.
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	list, err := parser.ParseList(strings.TrimSpace(value))
	if err != nil || len(list) == 0 {
		return replyErr(550, enhMissingHeader, "From header field cannot be parsed")
	}
	for _, a := range list {
		ok, err := ss.owns(a.Address)
		if err != nil {
			ss.log.Error("smtp: sender lookup failed", "from", a.Address, "err", err)
			return errLocal()
		}
		if !ok {
			ss.log.Info("smtp: header From refused", "user", ss.user, "from", a.Address)
			return replyErr(550, enhNotOwner, "From header address not owned by the authenticated user")
		}
	}
	return nil
}

// returnPath is the field final delivery adds (RFC 5321 §4.4); copies
// for the queue go on travelling and must not carry one.
func returnPath(env envelope) string { return "Return-Path: <" + printable(env.from) + ">\r\n" }

// received returns the Received field every copy starts with (RFC 5321
// §4.4). "for" names the recipient only when there is one: every copy is
// the same file, and a list of recipients would disclose Bcc recipients
// to each other.
func (ss *session) received(id string, env envelope) string {
	var b strings.Builder
	b.WriteString("Received: from " + heloName(env.helo) + " (" + addressLiteral(ss.f.remote) + ")\r\n")
	b.WriteString("\tby " + ss.s.opts.Hostname + " (maildird) with " + protocolName(env, ss.f.tlsState != nil, ss.user != "") + " id " + id)
	if len(env.rcpts) == 1 {
		b.WriteString("\r\n\tfor <" + printable(env.rcpts[0]) + ">")
	}
	if st := ss.f.tlsState; st != nil {
		// RFC 8314 §7.4 "tls" clause, version as a comment.
		version, cipher := tlsNames(st)
		b.WriteString("\r\n\ttls " + cipher + " (" + strings.ReplaceAll(version, " ", "") + ")")
	}
	b.WriteString(";\r\n\t" + ss.s.now().Format(time.RFC1123Z) + "\r\n")
	return b.String()
}

// protocolName is the "with" value: RFC 3848 (ESMTP, ESMTPS, ESMTPA,
// ESMTPSA) and RFC 6531 (UTF8SMTP...) keywords; plain SMTP after HELO.
func protocolName(env envelope, tls, authed bool) string {
	if env.greeting == "HELO" {
		return "SMTP"
	}
	p := "ESMTP"
	if env.utf8 {
		p = "UTF8SMTP"
	}
	if tls {
		p += "S"
	}
	if authed {
		p += "A"
	}
	return p
}

// heloName keeps the client's HELO argument readable and harmless inside
// the field: letters, digits and ".-_:[]" (an address literal), at most 255.
func heloName(helo string) string {
	var b strings.Builder
	for _, r := range helo {
		if b.Len() >= 255 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-_:[]", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// printable drops control characters and angle brackets from an address.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 32 || r == 127 || r == '<' || r == '>' {
			return -1
		}
		return r
	}, s)
}

// addressLiteral is RFC 5321 §4.1.3: [192.0.2.1] or [IPv6:2001:db8::1].
func addressLiteral(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "[unknown]"
	case a.Is4():
		return "[" + a.String() + "]"
	}
	return fmt.Sprintf("[IPv6:%s]", a.String())
}
