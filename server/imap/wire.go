package imap

// ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2) written from maildir's
// summary byte for byte as Dovecot 2.3 writes them, because clients and
// their caches have been tested against Dovecot's bytes and because the
// comparison test holds us to them. go-imap's writer cannot: it takes a
// parsed time for the date, a map for parameters and chooses its own
// quoting.
//
// Dovecot's string rules, which decide between a quoted string and a
// literal:
//
//   - nstring (Date, Message-ID, In-Reply-To, Content-ID, -Description,
//     -MD5, -Location, the parts of an address): CR and LF are dropped
//     (that unfolds the value); the result is quoted, with '"' and '\'
//     escaped, unless it holds 8-bit bytes or more than four such
//     escapes, then it is a literal.
//   - text for humans (Subject, display names): CR and LF are dropped;
//     if the value has a tab, a '"' or '\', 8-bit bytes, a NUL, or white
//     space at either end or in runs, it is sent as a literal with tabs
//     turned into spaces, runs of white space squeezed to one space and
//     white space at the ends removed; otherwise it is quoted as it is.
//   - NUL bytes, which a C string cannot hold, are sent as 0x80.
//   - Tokens (type, subtype, parameters, disposition, language) are
//     strings as the message spells them.

import (
	"strconv"
	"strings"

	"github.com/maildird/maildird/maildir"
)

// maxQuotedEscapes is where an nstring stops being quoted: four escapes
// cost about what a literal's "{nn}\r\n" costs.
const maxQuotedEscapes = 4

// appendNString appends s as an IMAP nstring, NIL when !present.
func appendNString(b []byte, s string, present bool) []byte {
	if !present {
		return append(b, "NIL"...)
	}
	return appendString(b, s)
}

// appendString appends s by Dovecot's nstring rule (see above).
func appendString(b []byte, s string) []byte {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	}
	escapes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			escapes++
		}
		if c >= 0x80 || c == 0 || escapes > maxQuotedEscapes {
			return appendLiteral(b, s)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendLiteral appends s as a literal, NUL bytes as 0x80.
func appendLiteral(b []byte, s string) []byte {
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, "}\r\n"...)
	start := len(b)
	b = append(b, s...)
	for i := start; i < len(b); i++ {
		if b[i] == 0 {
			b[i] = 0x80
		}
	}
	return b
}

// appendHumanText appends s by Dovecot's rule for text read by people.
func appendHumanText(b []byte, s string) []byte {
	modify := false
	lastSpace, allSpace := true, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r', '\n':
			modify = true
			continue
		case ' ', '\t':
			if c == '\t' || lastSpace {
				modify = true
			}
			lastSpace = true
		case '"', '\\', 0:
			modify = true
			lastSpace = false
		default:
			if c >= 0x80 {
				modify = true
			}
			lastSpace = false
		}
		if !lastSpace {
			allSpace = false
		}
	}
	if lastSpace && !allSpace {
		modify = true // trailing white space
	}
	if !modify {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var clean []byte
	lastSpace = true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r', '\n':
		case ' ', '\t':
			if !lastSpace {
				clean = append(clean, ' ')
			}
			lastSpace = true
		case 0:
			clean = append(clean, 0x80)
			lastSpace = false
		default:
			clean = append(clean, c)
			lastSpace = false
		}
	}
	if lastSpace && len(clean) > 0 {
		clean = clean[:len(clean)-1]
	}
	if len(clean) == 0 {
		return append(b, `""`...)
	}
	return appendLiteral(b, string(clean))
}

// appendEnvelope appends an ENVELOPE (RFC 3501 §7.4.2).
func appendEnvelope(b []byte, e *maildir.Envelope) []byte {
	has := func(v string, f maildir.Fields) bool { return v != "" || e.Empty&f != 0 }
	b = append(b, '(')
	b = appendNString(b, e.Date, has(e.Date, maildir.FieldDate))
	b = append(b, ' ')
	if has(e.Subject, maildir.FieldSubject) {
		b = appendHumanText(b, e.Subject)
	} else {
		b = append(b, "NIL"...)
	}
	for _, l := range [][]maildir.Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		b = append(b, ' ')
		b = appendAddresses(b, l)
	}
	b = append(b, ' ')
	b = appendNString(b, e.InReplyTo, has(e.InReplyTo, maildir.FieldInReplyTo))
	b = append(b, ' ')
	b = appendNString(b, e.MessageID, has(e.MessageID, maildir.FieldMessageID))
	return append(b, ')')
}

// appendAddresses appends an address list, its addresses not separated
// (RFC 3501's grammar has no space there, and neither has Dovecot).
func appendAddresses(b []byte, list []maildir.Address) []byte {
	if len(list) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for _, a := range list {
		b = append(b, '(')
		if a.Name != "" {
			b = appendHumanText(b, a.Name)
		} else {
			b = append(b, "NIL"...)
		}
		b = append(b, ' ')
		b = appendNString(b, a.Route, a.Route != "")
		b = append(b, ' ')
		b = appendNString(b, a.Mailbox, a.Mailbox != "")
		b = append(b, ' ')
		b = appendNString(b, a.Host, a.Host != "")
		b = append(b, ')')
	}
	return append(b, ')')
}

// appendBody appends BODY (extended false) or BODYSTRUCTURE of p.
func appendBody(b []byte, p *maildir.BodyPart, extended bool) []byte {
	b = append(b, '(')
	if p.IsMultipart() {
		for i := range p.Parts {
			b = appendBody(b, &p.Parts[i], extended)
		}
		b = append(b, ' ')
		b = appendString(b, rawOr(p.RawSubtype, p.Subtype))
		if extended {
			b = append(b, ' ')
			b = appendParams(b, p.Params, false)
			b = appendExtension(b, p)
		}
		return append(b, ')')
	}
	text := false
	if p.IsMessage() {
		b = append(b, `"message" "rfc822"`...)
	} else if p.RawType == "" {
		b = append(b, `"text" "plain"`...)
		text = true
	} else {
		text = strings.EqualFold(p.RawType, "text")
		b = appendString(b, p.RawType)
		b = append(b, ' ')
		b = appendString(b, p.RawSubtype)
	}
	b = append(b, ' ')
	b = appendParams(b, p.Params, text)
	b = append(b, ' ')
	b = appendNString(b, p.ID, p.ID != "" || p.Empty&maildir.FieldID != 0)
	b = append(b, ' ')
	b = appendNString(b, p.Description, p.Description != "" || p.Empty&maildir.FieldDescription != 0)
	b = append(b, ' ')
	b = appendString(b, rawOr(p.RawEncoding, "7bit"))
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Size, 10)
	switch {
	case p.IsMessage():
		b = append(b, ' ')
		b = appendEnvelope(b, p.Envelope)
		b = append(b, ' ')
		b = appendBody(b, p.Message, extended)
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.Lines, 10)
	case text:
		b = append(b, ' ')
		b = strconv.AppendInt(b, p.Lines, 10)
	}
	if extended {
		b = append(b, ' ')
		b = appendNString(b, p.MD5, p.MD5 != "" || p.Empty&maildir.FieldMD5 != 0)
		b = appendExtension(b, p)
	}
	return append(b, ')')
}

func rawOr(raw, def string) string {
	if raw == "" {
		return def
	}
	return raw
}

// appendParams appends a parameter list; a text part without a charset
// gets charset=us-ascii at the end (RFC 2045 §5.2), as Dovecot adds it.
func appendParams(b []byte, params []maildir.Param, text bool) []byte {
	_, hasCharset := maildir.ParamValue(params, "charset")
	addCharset := text && !hasCharset
	if len(params) == 0 && !addCharset {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for i, p := range params {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendString(b, p.Name)
		b = append(b, ' ')
		b = appendString(b, p.Value)
	}
	if addCharset {
		if len(params) > 0 {
			b = append(b, ' ')
		}
		b = append(b, `"charset" "us-ascii"`...)
	}
	return append(b, ')')
}

// appendExtension appends the disposition, language and location of
// BODYSTRUCTURE's extension data.
func appendExtension(b []byte, p *maildir.BodyPart) []byte {
	b = append(b, ' ')
	if p.RawDisposition == "" {
		b = append(b, "NIL"...)
	} else {
		b = append(b, '(')
		b = appendString(b, p.RawDisposition)
		b = append(b, ' ')
		b = appendParams(b, p.DispositionParams, false)
		b = append(b, ')')
	}
	b = append(b, ' ')
	if len(p.Language) == 0 {
		b = append(b, "NIL"...)
	} else {
		b = append(b, '(')
		for i, l := range p.Language {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendString(b, l)
		}
		b = append(b, ')')
	}
	b = append(b, ' ')
	return appendNString(b, p.Location, p.Location != "" || p.Empty&maildir.FieldLocation != 0)
}

// appendAString appends s as an astring, Dovecot's way: an atom when
// every byte may be in one (and it is not NIL), else a string.
func appendAString(b []byte, s string) []byte {
	if s == "" || strings.EqualFold(s, "NIL") {
		return appendString(b, s)
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return appendString(b, s)
		}
	}
	return append(b, s...)
}

// isAStringChar is RFC 3501's ASTRING-CHAR.
func isAStringChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`(){%*"\`, c) < 0
}
