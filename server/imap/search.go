package imap

// SEARCH keys (RFC 3501 §6.4.4, RFC 9051 §6.4.4) for one message, the way
// Dovecot 2.3 matches them:
//
//   - Dates disregard time and timezone: the internal date is taken in
//     the server's zone, the Date header in its own zone (the day the
//     sender wrote). A message whose Date header is missing or does not
//     parse was sent on 1 January 1970.
//   - Header and body text is searched as a case-insensitive substring of
//     the decoded text: RFC 2047 encoded words in headers, transfer
//     encodings and charsets in bodies, everything as UTF-8 compared by
//     Unicode title case. FROM, TO, CC and BCC search the addresses as
//     "name <mailbox@host>" (or "<mailbox@host>"); SUBJECT with runs of
//     white space made one space. HEADER with an empty string matches any
//     message that has the field.
//   - BODY searches the bodies of the text/* parts (not other parts, nor
//     the headers of parts or of attached messages); TEXT searches every
//     header too.
//
// Charsets other than UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and
// Windows-1252 are searched as if they were UTF-8: decoding more would
// need golang.org/x/text, which the module does not carry.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// maxSearchHeader bounds the header bytes kept for searching one message's
// header fields; fields beyond it are not searched.
const maxSearchHeader = 1 << 20

// searchMatch reports whether the message matches criteria. numMatch
// resolves the sequence and UID sets (and "$") against this message. All
// fields of criteria must match (AND); Not and Or recurse. A source that
// also has a Recent() bool method answers \Recent (RECENT, NEW, OLD);
// otherwise no message is \Recent.
func searchMatch(src messageSource, criteria *goimap.SearchCriteria, numMatch func(goimap.NumSet) bool) (bool, error) {
	m := &matcher{src: src, info: src.Info(), numMatch: numMatch}
	return m.match(criteria)
}

// matcher evaluates criteria against one message, loading its summary and
// header at most once.
type matcher struct {
	src      messageSource
	info     maildir.Message
	numMatch func(goimap.NumSet) bool
	sum      *maildir.Summary
	hdr      []headerField
	hdrRead  bool
}

type headerField struct {
	name  string // as in the message
	value string // unfolded, raw
}

func (m *matcher) match(c *goimap.SearchCriteria) (bool, error) {
	if !m.matchCheap(c) {
		return false, nil
	}
	if c.ModSeq != nil {
		return false, &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "MODSEQ is not supported"}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		s, err := m.summary()
		if err != nil {
			return false, err
		}
		t, err := mail.ParseDate(s.Envelope.Date)
		if err != nil {
			t = time.Unix(0, 0).UTC()
		}
		if !dayInRange(t, c.SentSince, c.SentBefore) {
			return false, nil
		}
	}
	for _, h := range c.Header {
		ok, err := m.matchHeader(h.Key, h.Value)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, text := range c.Body {
		ok, err := m.matchText(text, false)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, text := range c.Text {
		ok, err := m.matchText(text, true)
		if err != nil || !ok {
			return false, err
		}
	}
	for i := range c.Not {
		ok, err := m.match(&c.Not[i])
		if err != nil || ok {
			return false, err
		}
	}
	for i := range c.Or {
		ok, err := m.match(&c.Or[i][0])
		if err != nil {
			return false, err
		}
		if !ok {
			if ok, err = m.match(&c.Or[i][1]); err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

// matchCheap checks the keys that need only what the view knows: numbers,
// flags, internal date and size.
func (m *matcher) matchCheap(c *goimap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !m.numMatch(set) {
			return false
		}
	}
	for _, set := range c.UID {
		if !m.numMatch(set) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !m.hasFlag(f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if m.hasFlag(f) {
			return false
		}
	}
	if c.Larger > 0 && m.info.Size <= c.Larger {
		return false
	}
	if c.Smaller > 0 && m.info.Size >= c.Smaller {
		return false
	}
	if (!c.Since.IsZero() || !c.Before.IsZero()) && !dayInRange(m.info.Date.In(time.Local), c.Since, c.Before) {
		return false
	}
	return true
}

// searchFlagBits maps the system flags (and $Forwarded, which maildir keeps
// as a flag letter) to maildir's bits.
var searchFlagBits = map[string]maildir.Flag{
	`\SEEN`:      maildir.FlagSeen,
	`\ANSWERED`:  maildir.FlagAnswered,
	`\FLAGGED`:   maildir.FlagFlagged,
	`\DELETED`:   maildir.FlagDeleted,
	`\DRAFT`:     maildir.FlagDraft,
	`$FORWARDED`: maildir.FlagForwarded,
}

// recentSource is a messageSource that knows whether the message is
// \Recent in this session.
type recentSource interface{ Recent() bool }

func (m *matcher) hasFlag(f goimap.Flag) bool {
	name := strings.ToUpper(string(f))
	if bit, ok := searchFlagBits[name]; ok {
		return m.info.Flags&bit != 0
	}
	if name == `\RECENT` {
		r, ok := m.src.(recentSource)
		return ok && r.Recent()
	}
	for _, k := range m.info.Keywords {
		if strings.EqualFold(k, string(f)) {
			return true
		}
	}
	return false
}

// dayInRange reports whether t's calendar day (in t's own zone) is on or
// after since's day and before before's day; a zero bound is open.
func dayInRange(t, since, before time.Time) bool {
	d := civilDay(t)
	if !since.IsZero() && d.Before(civilDay(since)) {
		return false
	}
	if !before.IsZero() && !d.Before(civilDay(before)) {
		return false
	}
	return true
}

func civilDay(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// subjectSource is a messageSource that reads the subject alone.
type subjectSource interface {
	Subject() (maildir.SubjectInfo, error)
}

// subject is the summary's subject, read alone where the source can.
func (m *matcher) subject() (maildir.SubjectInfo, error) {
	if ss, ok := m.src.(subjectSource); ok && m.sum == nil {
		return ss.Subject()
	}
	s, err := m.summary()
	if err != nil {
		return maildir.SubjectInfo{}, err
	}
	return maildir.SubjectInfo{Subject: s.Envelope.Subject, Exact: s.SubjectExact, HeaderSize: s.HeaderSize}, nil
}

func (m *matcher) summary() (*maildir.Summary, error) {
	if m.sum == nil {
		s, err := m.src.Summary()
		if err != nil {
			return nil, err
		}
		m.sum = s
	}
	return m.sum, nil
}

// addressFields are searched as parsed addresses (Dovecot's
// SEARCH_HEADER_ADDRESS for the FROM, TO, CC and BCC keys).
var addressFields = map[string]bool{"FROM": true, "TO": true, "CC": true, "BCC": true}

func (m *matcher) matchHeader(name, value string) (bool, error) {
	key := strings.ToUpper(name)
	if addressFields[key] && value != "" {
		s, err := m.summary()
		if err != nil {
			return false, err
		}
		var list []maildir.Address
		switch key {
		case "FROM":
			list = s.Envelope.From
		case "TO":
			list = s.Envelope.To
		case "CC":
			list = s.Envelope.Cc
		case "BCC":
			list = s.Envelope.Bcc
		}
		return len(list) > 0 && textContains(decodeHeader(addressText(list)), value), nil
	}
	if key == "SUBJECT" && value != "" {
		// The summary's Subject, when it is the whole of it, spares
		// reading the file.
		si, err := m.subject()
		if err != nil {
			return false, err
		}
		if si.Exact && si.HeaderSize <= maxSearchHeader {
			return textContains(subjectText(si.Subject), value), nil
		}
	}
	fields, err := m.header()
	if err != nil {
		return false, err
	}
	for _, f := range fields {
		if !strings.EqualFold(f.name, name) {
			continue
		}
		if value == "" {
			return true, nil
		}
		v := decodeHeader(f.value)
		if key == "SUBJECT" {
			v = subjectText(f.value)
		}
		if textContains(v, value) {
			return true, nil
		}
	}
	return false, nil
}

// subjectText is a Subject value as SUBJECT searches it: decoded, with
// runs of white space made one space.
func subjectText(v string) string {
	return strings.Join(strings.Fields(decodeHeader(v)), " ")
}

// addressText writes an address list as Dovecot's message_address_write
// does: "name <mailbox@host>", groups as "name: ...;".
func addressText(list []maildir.Address) string {
	var b strings.Builder
	first := true
	for _, a := range list {
		switch {
		case a.IsGroupEnd():
			b.WriteString(";")
			first = false
			continue
		case !first:
			b.WriteString(", ")
		}
		first = false
		switch {
		case a.IsGroupStart():
			b.WriteString(a.Mailbox + ": ")
			first = true
		case a.Name != "":
			b.WriteString(a.Name + " <" + a.Mailbox + "@" + a.Host + ">")
		default:
			b.WriteString("<" + a.Mailbox + "@" + a.Host + ">")
		}
	}
	return b.String()
}

// header reads the message's top-level header fields once.
func (m *matcher) header() ([]headerField, error) {
	if m.hdrRead {
		return m.hdr, nil
	}
	s, err := m.summary()
	if err != nil {
		return nil, err
	}
	r, err := m.src.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m.hdr, err = readHeaderFields(io.LimitReader(r, min(s.HeaderSize, maxSearchHeader)))
	m.hdrRead = err == nil
	return m.hdr, err
}

// readHeaderFields splits a header into unfolded fields.
func readHeaderFields(r io.Reader) ([]headerField, error) {
	br := bufio.NewReader(r)
	var out []headerField
	var cur []byte
	flush := func() {
		if len(cur) == 0 {
			return
		}
		name, value, ok := bytes.Cut(cur, []byte(":"))
		if ok {
			out = append(out, headerField{
				name:  string(bytes.TrimRight(name, " \t")),
				value: string(bytes.TrimSpace(value)),
			})
		}
		cur = cur[:0]
	}
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			cur = append(cur, line...)
			continue
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(line) > 0 && len(trimmed) == 0 && err == nil {
			break // the blank line
		}
		if len(trimmed) > 0 && (trimmed[0] == ' ' || trimmed[0] == '\t') && len(cur) > 0 {
			cur = append(cur, trimmed...)
		} else {
			flush()
			cur = append(cur, trimmed...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	flush()
	return out, nil
}

// matchText searches the decoded bodies of the leaf parts, and with
// headers also every header (the message's, the parts', the attached
// messages').
func (m *matcher) matchText(text string, headers bool) (bool, error) {
	needle := foldString(text)
	if needle == "" {
		return true, nil
	}
	s, err := m.summary()
	if err != nil {
		return false, err
	}
	r, err := m.src.Open()
	if err != nil {
		return false, err
	}
	defer r.Close()
	w := &partWalker{r: r, needle: needle, headers: headers}
	found, err := w.walk(&s.Body)
	if err != nil {
		return false, err
	}
	return found, nil
}

// partWalker reads the message once, front to back, searching the parts
// in order.
type partWalker struct {
	r       io.Reader
	pos     int64
	needle  string
	headers bool
}

func (w *partWalker) seek(off int64) error {
	if off < w.pos {
		return errors.New("imap: message parts out of order")
	}
	n, err := io.CopyN(io.Discard, w.r, off-w.pos)
	w.pos += n
	if err == io.EOF {
		err = nil
	}
	return err
}

// section returns a reader for [off, off+n), which must be read whole
// before the next call.
func (w *partWalker) section(off, n int64) (io.Reader, error) {
	if err := w.seek(off); err != nil {
		return nil, err
	}
	return &countReader{r: io.LimitReader(w.r, n), n: &w.pos}, nil
}

func (w *partWalker) walk(p *maildir.BodyPart) (bool, error) {
	if w.headers {
		r, err := w.section(p.Offset, p.HeaderSize)
		if err != nil {
			return false, err
		}
		fields, err := readHeaderFields(io.LimitReader(r, maxSearchHeader))
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, r)
		for _, f := range fields {
			if strings.Contains(foldString(f.name+": "+decodeHeader(f.value)), w.needle) {
				return true, nil
			}
		}
	}
	switch {
	case p.IsMultipart():
		for i := range p.Parts {
			if found, err := w.walk(&p.Parts[i]); err != nil || found {
				return found, err
			}
		}
		return false, nil
	case p.IsMessage():
		return w.walk(p.Message)
	case p.Type != "text":
		return false, nil
	}
	r, err := w.section(p.BodyOffset(), p.Size)
	if err != nil {
		return false, err
	}
	src := &readErr{r: r}
	var dec io.Reader = src
	switch p.Encoding {
	case "base64":
		dec = newBase64Reader(src)
	case "quoted-printable":
		dec = newQPReader(src)
	}
	found := searchStream(dec, charsetDecoder(paramValue(p.Params, "charset")), w.needle)
	if src.err != nil {
		return false, src.err
	}
	io.Copy(io.Discard, r)
	return found, nil
}

// countReader adds what it reads to *n.
type countReader struct {
	r io.Reader
	n *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// searchStream looks for needle (folded) in the text r gives, converted
// to UTF-8 by conv and folded, keeping only a window of it.
func searchStream(r io.Reader, conv func([]byte) string, needle string) bool {
	buf := make([]byte, 32<<10)
	var carry []byte // an incomplete UTF-8 sequence at the end of a block
	tail := ""
	for {
		n, err := r.Read(buf)
		if n > 0 {
			block := append(carry, buf[:n]...)
			carry = nil
			if conv == nil {
				// UTF-8: keep a sequence cut by the block boundary.
				cut := incompleteSuffix(block)
				carry = append([]byte(nil), block[len(block)-cut:]...)
				block = block[:len(block)-cut]
			}
			text := tail + foldBytes(block, conv)
			if strings.Contains(text, needle) {
				return true
			}
			if keep := len(needle) - 1; len(text) > keep {
				tail = text[len(text)-keep:]
			} else {
				tail = text
			}
		}
		if err != nil {
			if len(carry) > 0 {
				return strings.Contains(tail+foldBytes(carry, conv), needle)
			}
			return false
		}
	}
}

// incompleteSuffix is the length of a UTF-8 sequence cut off at the end
// of b (0 when b ends on a boundary or with invalid bytes).
func incompleteSuffix(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

// foldBytes converts b to UTF-8 with conv (nil: it is UTF-8) and folds it.
func foldBytes(b []byte, conv func([]byte) string) string {
	if conv != nil {
		return foldString(conv(b))
	}
	return foldString(string(b))
}

// foldString maps s to Unicode title case, rune by rune, the comparison
// form of Dovecot's i;unicode-casemap (without its decomposition).
// Invalid UTF-8 becomes U+FFFD.
func foldString(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(unicode.ToTitle(r))
	}
	return b.String()
}

// textContains reports whether needle occurs in haystack, compared folded.
func textContains(haystack, needle string) bool {
	return strings.Contains(foldString(haystack), foldString(needle))
}

// wordDecoder decodes RFC 2047 encoded words in the charsets we know.
var wordDecoder = &mime.WordDecoder{
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		conv := charsetDecoder(charset)
		if conv == nil {
			return input, nil
		}
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(conv(b)), nil
	},
}

// decodeHeader decodes the encoded words of a header value; a value that
// does not decode stays as it is.
func decodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// charsetDecoder returns a converter to UTF-8 for the single-byte
// charsets we know, or nil for UTF-8 and anything else (read as UTF-8).
func charsetDecoder(charset string) func([]byte) string {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "iso_8859-1", "latin1", "l1", "iso8859-1":
		return func(b []byte) string { return decodeTable(b, nil) }
	case "windows-1252", "cp1252":
		return func(b []byte) string { return decodeTable(b, &cp1252) }
	case "iso-8859-15", "iso_8859-15", "latin-9", "latin9", "iso8859-15":
		return func(b []byte) string { return decodeTable(b, &latin9) }
	}
	return nil
}

// highTable gives the runes of bytes 0x80-0xBF where they differ from
// ISO-8859-1 (0 = same as ISO-8859-1).
type highTable [64]rune

func decodeTable(b []byte, t *highTable) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		r := rune(c)
		if t != nil && c >= 0x80 && c < 0xC0 && t[c-0x80] != 0 {
			r = t[c-0x80]
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

var cp1252 = highTable{
	0x00: '€', 0x02: '‚', 0x03: 'ƒ', 0x04: '„', 0x05: '…', 0x06: '†', 0x07: '‡',
	0x08: 'ˆ', 0x09: '‰', 0x0A: 'Š', 0x0B: '‹', 0x0C: 'Œ', 0x0E: 'Ž',
	0x11: '‘', 0x12: '’', 0x13: '“', 0x14: '”', 0x15: '•', 0x16: '–', 0x17: '—',
	0x18: '˜', 0x19: '™', 0x1A: 'š', 0x1B: '›', 0x1C: 'œ', 0x1E: 'ž', 0x1F: 'Ÿ',
}

var latin9 = highTable{
	0x24: '€', 0x26: 'Š', 0x28: 'š', 0x34: 'Ž', 0x38: 'ž', 0x3C: 'Œ', 0x3D: 'œ', 0x3E: 'Ÿ',
}

// paramValue is the value of a parameter, "" when absent.
func paramValue(params []maildir.Param, name string) string {
	v, _ := maildir.ParamValue(params, name)
	return v
}
