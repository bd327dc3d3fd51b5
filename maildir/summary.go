package maildir

// Message summaries: what IMAP's ENVELOPE, BODY, BODYSTRUCTURE,
// RFC822.HEADER and BODY[section] need, learned in one streaming pass over
// a message so later FETCHes need not read the file again.
//
// RFC 3501 §7.4.2 gives the shapes. The parsing follows Dovecot 2.3, so the
// two servers describe a message the same way, broken ones included:
//
//   - Offsets and sizes are those of the CRLF form of the message, the form
//     IMAP serves: a line ending in a bare LF counts as if it ended in CRLF.
//   - A boundary line is "--" followed by the boundary of any enclosing
//     multipart as a prefix (the longest one wins, the innermost among equal
//     ones), so a boundary line with trailing garbage still counts, and an
//     outer boundary ends every part nested inside it (a missing closing
//     boundary is not fatal). "--" right after the boundary closes the
//     multipart. The CRLF before a boundary line belongs to the boundary,
//     not to the part before it (RFC 2046 §5.1.1).
//   - A boundary line inside a part's header ends the header and the part.
//   - Content-* header fields count only in a MIME part: one with
//     Content-Type or MIME-Version, or any part of a multipart. The first
//     occurrence of each Content-* field wins; for the envelope fields the
//     last one wins.
//   - No Content-Type means text/plain, or message/rfc822 inside
//     multipart/digest (RFC 2046 §5.1.5). A text part without a charset
//     parameter gets charset=us-ascii; a missing Content-Transfer-Encoding
//     is 7bit. A type without a subtype gets "plain" for text, "unknown"
//     otherwise.
//   - A multipart without children (no boundary parameter, or its boundary
//     never seen) gets one empty text/plain child, because IMAP has no way
//     to say "no parts" (Dovecot writes the same).
//   - Nesting deeper than maxMIMEDepth, or parts beyond maxMIMEParts, are
//     not parsed: such a multipart or message/rfc822 part is described as
//     application/octet-stream, and after maxMIMEParts parts the rest of
//     the message belongs to the part being read.
//   - Header fields are kept only when they matter (Content-*,
//     MIME-Version, the envelope fields), at most maxHeaderBlock bytes of
//     them per header and maxHeaderTotal per message; longer values are cut.
//     Memory use is therefore bounded whatever the message size.
//
// Strings are kept as the message has them, because IMAP sends them raw and
// Dovecot's choice between a quoted string and a literal depends on them:
// encoded words (RFC 2047) stay encoded, 8-bit bytes stay as they are, and
// a header value keeps its folds (as CRLF followed by the continuation
// line) and trailing white space; only the white space after the colon is
// dropped. A field that is present but empty is told apart from one that
// is absent (Empty). Type, Subtype, Encoding and Disposition are
// lowercased for the code that acts on them; RawType, RawSubtype,
// RawEncoding and RawDisposition keep the message's spelling for IMAP.
// Parameters keep their names' case and their order, duplicates included;
// RFC 2231 continuations (name*0, name*1, ...) are joined and follow the
// plain parameters, sorted by name, and an extended value keeps its
// "charset'lang'" prefix and its key its trailing "*", as Dovecot sends it.
// No default charset is added: that is the IMAP writer's business.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

const (
	maxHeaderBlock  = 64 << 10 // header field bytes kept per header block
	maxFieldLen     = 16 << 10 // bytes kept of one header field value
	maxHeaderTotal  = 1 << 20  // header field bytes kept per message
	maxMIMEDepth    = 100      // nested multipart and message/rfc822 levels
	maxMIMEParts    = 10000    // body parts per message
	maxAddresses    = 1000     // addresses kept per address header field
	maxBoundaryLen  = 1024     // longer boundary parameters are ignored
	summaryReadSize = 64 << 10 // read buffer; also the longest prefix of a line looked at for boundaries
)

// Address is one element of an envelope address list (RFC 3501 §7.4.2).
// Group syntax is represented the way the IMAP envelope does it: a group
// starts with an Address whose Host is empty and whose Mailbox is the
// group's name, and ends with an Address that is entirely empty. A real
// address always has a non-empty Mailbox and Host; where the message lacks
// them they are "MISSING_MAILBOX" and "MISSING_DOMAIN", as Dovecot sends.
// Name is the display name (the phrase, or a trailing comment), raw; Route
// the obsolete source route ("@a,@b"), or "INVALID_ROUTE" for a broken
// one, as Dovecot sends it.
type Address struct {
	Name, Route, Mailbox, Host string
}

// IsGroupStart reports whether a is the start marker of a group.
func (a Address) IsGroupStart() bool { return a.Host == "" && a.Mailbox != "" }

// IsGroupEnd reports whether a is the end marker of a group.
func (a Address) IsGroupEnd() bool { return a.Host == "" && a.Mailbox == "" }

// Envelope is the IMAP ENVELOPE of a message (RFC 3501 §7.4.2). Date,
// Subject, InReplyTo and MessageID are the raw, unfolded header values ("" =
// NIL unless Empty has the field). Sender and ReplyTo are already
// defaulted to From when the header is absent or empty, as RFC 3501
// requires of the server.
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
	Empty                              Fields // fields present with an empty value
}

// Fields is a set of the string fields of Envelope and BodyPart. IMAP
// sends an absent field as NIL and a present, empty one as "".
type Fields uint16

const (
	FieldDate Fields = 1 << iota
	FieldSubject
	FieldInReplyTo
	FieldMessageID
	FieldID
	FieldDescription
	FieldMD5
	FieldLocation
)

// Param is one parameter of Content-Type or Content-Disposition.
type Param struct {
	Name, Value string
}

// ParamValue returns the value of the first parameter called name, in any
// case.
func ParamValue(params []Param, name string) (string, bool) {
	for _, p := range params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// BodyPart describes one MIME entity: the message itself, a part of a
// multipart, or the message inside a message/rfc822 part.
//
// Offset is where the entity's header starts in the CRLF form of the
// message, HeaderSize the CRLF length of that header including the blank
// line ending it, and Size the length of the body after it; so the body
// is [Offset+HeaderSize, Offset+HeaderSize+Size). For a message/rfc822 part
// the body is the encapsulated message, described by Envelope and Message
// (Message.Offset is the body's start). Lines counts the lines of the body
// for text/* and message/rfc822 parts; it is 0 for others. A multipart has
// at least one entry in Parts.
type BodyPart struct {
	Type, Subtype     string  // lowercase; "text", "plain" by default
	Params            []Param // Content-Type parameters, in order
	ID, Description   string  // Content-ID, Content-Description ("" = NIL unless in Empty)
	Encoding          string  // Content-Transfer-Encoding, lowercase; "7bit" by default
	Size              int64   // body octets, CRLF form
	Lines             int64   // text/* and message/rfc822 only
	MD5               string  // Content-MD5
	Disposition       string  // Content-Disposition value, lowercase ("" = NIL)
	DispositionParams []Param // its parameters

	// The tokens as the message spells them ("" when the header lacks
	// them): IMAP sends these.
	RawType, RawSubtype, RawEncoding, RawDisposition string

	Empty Fields // ID, Description, MD5, Location present but empty

	Language   []string   // Content-Language tags
	Location   string     // Content-Location
	Parts      []BodyPart // multipart children
	Envelope   *Envelope  // message/rfc822: the encapsulated message's envelope
	Message    *BodyPart  // message/rfc822: the encapsulated message
	HeaderSize int64      // header octets including the blank line, CRLF form
	Offset     int64      // start of the header in the CRLF form of the message
}

// BodyOffset is where the part's body starts in the CRLF form of the message.
func (b *BodyPart) BodyOffset() int64 { return b.Offset + b.HeaderSize }

// IsMultipart reports whether b has child parts.
func (b *BodyPart) IsMultipart() bool { return b.Type == "multipart" && len(b.Parts) > 0 }

// IsMessage reports whether b encapsulates a message (message/rfc822).
func (b *BodyPart) IsMessage() bool { return b.Message != nil }

// Summary is what ParseSummary learns about a message.
type Summary struct {
	Envelope   Envelope
	Body       BodyPart // the message as a whole: Offset 0, HeaderSize, Size = BodySize
	HeaderSize int64    // RFC822.HEADER size: header including the blank line, CRLF form
	BodySize   int64    // RFC822.TEXT size, CRLF form

	// SubjectExact reports that Envelope.Subject is all there is of the
	// message's Subject: the header has at most one Subject field, it
	// ends within the first maxHeaderTotal (1 MiB) bytes of the message,
	// and its value was kept whole. SEARCH SUBJECT can then be answered
	// from the summary instead of the file.
	SubjectExact bool
}

// Part finds the entity an IMAP section number names (RFC 3501 §6.4.5):
// BODY[section] is that entity's body, [BodyOffset(), BodyOffset()+Size),
// and BODY[section.MIME] its header. Part(1) of a message that is not
// multipart is the message itself; within a message/rfc822 part the next
// number counts the parts of the encapsulated message's body. Part() is
// the whole message. It returns false when there is no such part.
func (s *Summary) Part(section ...int) (*BodyPart, bool) {
	p := &s.Body
	for i, n := range section {
		if n < 1 {
			return nil, false
		}
		if i == 0 && !p.IsMultipart() {
			if n != 1 {
				return nil, false
			}
			continue
		}
		switch {
		case p.IsMultipart():
			if n > len(p.Parts) {
				return nil, false
			}
			p = &p.Parts[n-1]
		case p.IsMessage():
			inner := p.Message
			switch {
			case inner.IsMultipart() && n <= len(inner.Parts):
				p = &inner.Parts[n-1]
			case !inner.IsMultipart() && n == 1:
				p = inner
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return p, true
}

// ParseSummary reads a message in CRLF form (bare LF line ends are counted
// as CRLF) and describes it. It streams: memory use is bounded whatever
// the message's size. Broken MIME gives a best-effort description, never an
// error; only a read error from r is returned.
func ParseSummary(r io.Reader) (*Summary, error) {
	br := summaryReaders.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		summaryReaders.Put(br)
	}()
	p := &summaryParser{
		br:        br,
		budget:    maxHeaderTotal,
		topHeader: true,
	}
	s := &Summary{}
	p.parseEntity(&s.Body, &s.Envelope, false, false, 0)
	if p.err != nil {
		return nil, fmt.Errorf("maildir: reading message: %w", p.err)
	}
	s.HeaderSize = s.Body.HeaderSize
	s.BodySize = s.Body.Size
	s.SubjectExact = p.subjects <= 1 && !p.subjectCut
	return s, nil
}

// summaryReaders keeps the parsers' read buffers: a folder's first
// FETCH ENVELOPE parses every message, and a new 64 KiB buffer for each
// would keep the garbage collector busy.
var summaryReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, summaryReadSize) }}

// boundaryHit is a boundary line that ended the part being read.
type boundaryHit struct {
	valid bool
	idx   int   // index into summaryParser.bounds
	close bool  // "--boundary--"
	end   int64 // where the parts it ends end: before the CRLF preceding it
	endNL int64 // line count there
}

type summaryParser struct {
	br     *bufio.Reader
	off    int64 // CRLF offset of the next line
	nl     int64 // lines read so far
	err    error // read error other than io.EOF
	eof    bool
	long   []byte      // a line longer than the read buffer
	bounds []string    // boundaries of the enclosing multiparts, outermost first
	hit    boundaryHit // the boundary that ended the innermost part
	parts  int
	budget int // header bytes that may still be kept
	field  []byte

	// While the message's own header is read: how many Subject fields it
	// has, and whether one was not kept whole (see Summary.SubjectExact).
	topHeader  bool
	subjects   int
	subjectCut bool
}

// readLine reads one line and returns it without its line end. The slice
// is valid until the next call. For a line longer than the read buffer it
// holds the first summaryReadSize bytes, or, with keep > 0, up to keep
// bytes. lf reports whether the line ended with LF. ok is false at the end
// of input.
func (p *summaryParser) readLine(keep int) (line []byte, lf, ok bool) {
	if p.eof {
		return nil, false, false
	}
	frag, err := p.br.ReadSlice('\n')
	if err == nil {
		p.nl++
		raw := len(frag)
		line = frag[:raw-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		p.off += int64(len(line)) + 2
		return line, true, true
	}
	if err != bufio.ErrBufferFull {
		if err != io.EOF {
			p.err = err
		}
		p.eof = true
		if len(frag) == 0 {
			return nil, false, false
		}
		p.off += int64(len(frag))
		return frag, false, true
	}
	// A long line: keep its start, count the rest.
	p.long = append(p.long[:0], frag...)
	n := int64(len(frag))
	last := frag[len(frag)-1]
	for {
		frag, err = p.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull || (err == nil && len(frag) > 0) {
			if len(p.long) < keep {
				p.long = append(p.long, frag[:min(len(frag), keep-len(p.long))]...)
			}
			n += int64(len(frag))
			last2 := last
			if len(frag) > 0 {
				last = frag[len(frag)-1]
			}
			if err == nil {
				// Ends with LF; was the byte before it a CR?
				before := last2
				if len(frag) >= 2 {
					before = frag[len(frag)-2]
				}
				p.nl++
				content := n - 1
				if before == '\r' {
					content--
				}
				p.off += content + 2
				p.long = trimLineEnd(p.long)
				return p.long, true, true
			}
			continue
		}
		if err != io.EOF && err != nil {
			p.err = err
		}
		p.eof = true
		n += int64(len(frag))
		if len(p.long) < keep {
			p.long = append(p.long, frag[:min(len(frag), keep-len(p.long))]...)
		}
		p.off += n
		return p.long, false, true
	}
}

// trimLineEnd removes a trailing LF or CRLF that a kept long line may end with.
func trimLineEnd(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// matchBoundary reports whether line, which started at offset start after
// nl lines, is a boundary line of an enclosing multipart, and records it in
// p.hit. first says no line of the current scan came before it, so there
// is no CRLF before it that it could claim.
func (p *summaryParser) matchBoundary(line []byte, start, nl int64, first bool) bool {
	if len(p.bounds) == 0 || len(line) < 2 || line[0] != '-' || line[1] != '-' {
		return false
	}
	rest := line[2:]
	best := -1
	for i := len(p.bounds) - 1; i >= 0; i-- {
		b := p.bounds[i]
		if len(b) <= len(rest) && string(rest[:len(b)]) == b && (best < 0 || len(b) > len(p.bounds[best])) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	after := rest[len(p.bounds[best]):]
	p.hit = boundaryHit{
		valid: true,
		idx:   best,
		close: len(after) >= 2 && after[0] == '-' && after[1] == '-',
		end:   start,
		endNL: nl,
	}
	if !first {
		p.hit.end -= 2
		p.hit.endNL--
	}
	return true
}

// skipBody reads lines until a boundary line of an enclosing multipart
// (left in p.hit) or the end of input.
func (p *summaryParser) skipBody() {
	for first := true; ; first = false {
		start, nl := p.off, p.nl
		line, _, ok := p.readLine(0)
		if !ok {
			return
		}
		if p.matchBoundary(line, start, nl, first) {
			return
		}
	}
}

// end returns the offset and line count where the parts being read end:
// the end of input, or just before the CRLF that precedes the boundary
// line in p.hit.
func (p *summaryParser) end() (off, nl int64) {
	if !p.hit.valid {
		return p.off, p.nl
	}
	return p.hit.end, p.hit.endNL
}

// partHeader holds the header fields of one entity that the summary uses.
type partHeader struct {
	mime                        bool
	ctype, cte, id, desc, md5   string
	disp, lang, loc             string
	seenCType, seenCTE, seenID  bool
	seenDesc, seenMD5           bool
	seenDisp, seenLang, seenLoc bool
}

// parseHeader reads a header block, filling h and, if env is not nil, the
// envelope. It reports whether a boundary line ended it (in p.hit).
//
// A kept field value is cut at maxFieldLen bytes. A field that no longer
// fits in the block's maxHeaderBlock bytes, or in the message's
// maxHeaderTotal, is dropped whole, so a cut never turns one value into a
// different valid one.
func (p *summaryParser) parseHeader(h *partHeader, env *Envelope) (cut bool) {
	room := maxHeaderBlock
	var name []byte
	keepField, truncated := false, false
	top := p.topHeader
	p.topHeader = false
	defer func() {
		if top && p.off > maxHeaderTotal {
			// A Subject field may lie beyond what SEARCH reads.
			p.subjectCut = true
		}
	}()
	flush := func() {
		if !keepField {
			return
		}
		keepField = false
		subject := top && strings.EqualFold(string(name), "subject")
		if subject {
			p.subjects++
			p.subjectCut = p.subjectCut || truncated
		}
		v := p.field
		if len(v) > room || len(v) > p.budget {
			p.subjectCut = p.subjectCut || subject
			return
		}
		room -= len(v)
		p.budget -= len(v)
		p.headerField(h, env, name, v)
	}
	var nameBuf [32]byte
	for first := true; ; first = false {
		start, nl := p.off, p.nl
		line, _, ok := p.readLine(maxFieldLen + 64)
		if !ok {
			flush()
			return false
		}
		if p.matchBoundary(line, start, nl, first) {
			flush()
			return true
		}
		if len(line) == 0 {
			flush()
			return false
		}
		var value []byte
		if line[0] == ' ' || line[0] == '\t' {
			if !keepField {
				continue
			}
			if len(p.field) < maxFieldLen-2 {
				p.field = append(p.field, '\r', '\n')
			}
			value = line
		} else {
			flush()
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				continue // not a header field; Dovecot skips it too
			}
			n := bytes.TrimRight(line[:colon], " \t")
			if !wantHeader(n, env != nil) {
				continue
			}
			name = append(nameBuf[:0], n...)
			keepField, truncated = true, false
			p.field = p.field[:0]
			value = bytes.TrimLeft(line[colon+1:], " \t")
		}
		if len(value) > maxFieldLen-len(p.field) {
			value, truncated = value[:maxFieldLen-len(p.field)], true
		}
		p.field = append(p.field, value...)
	}
}

var envelopeHeaders = []string{"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id"}

func wantHeader(name []byte, envelope bool) bool {
	if len(name) >= 8 && strings.EqualFold(string(name[:8]), "content-") {
		return true
	}
	if strings.EqualFold(string(name), "mime-version") {
		return true
	}
	if envelope {
		for _, h := range envelopeHeaders {
			if strings.EqualFold(string(name), h) {
				return true
			}
		}
	}
	return false
}

func (p *summaryParser) headerField(h *partHeader, env *Envelope, name, value []byte) {
	lname := strings.ToLower(string(name))
	first := func(seen *bool, dst *string) {
		if !*seen {
			*seen = true
			*dst = string(value)
		}
	}
	empty := func(f Fields) {
		if len(value) == 0 {
			env.Empty |= f
		} else {
			env.Empty &^= f
		}
	}
	switch lname {
	case "mime-version":
		h.mime = true
	case "content-type":
		h.mime = true
		first(&h.seenCType, &h.ctype)
	case "content-transfer-encoding":
		first(&h.seenCTE, &h.cte)
	case "content-id":
		first(&h.seenID, &h.id)
	case "content-description":
		first(&h.seenDesc, &h.desc)
	case "content-md5":
		first(&h.seenMD5, &h.md5)
	case "content-disposition":
		first(&h.seenDisp, &h.disp)
	case "content-language":
		first(&h.seenLang, &h.lang)
	case "content-location":
		first(&h.seenLoc, &h.loc)
	}
	if env == nil {
		return
	}
	switch lname {
	case "date":
		env.Date = string(value)
		empty(FieldDate)
	case "subject":
		env.Subject = string(value)
		empty(FieldSubject)
	case "in-reply-to":
		env.InReplyTo = string(value)
		empty(FieldInReplyTo)
	case "message-id":
		env.MessageID = string(value)
		empty(FieldMessageID)
	case "from":
		env.From = parseAddressList(value)
	case "sender":
		env.Sender = parseAddressList(value)
	case "reply-to":
		env.ReplyTo = parseAddressList(value)
	case "to":
		env.To = parseAddressList(value)
	case "cc":
		env.Cc = parseAddressList(value)
	case "bcc":
		env.Bcc = parseAddressList(value)
	}
}

// parseEntity parses one entity (header and body) starting at the current
// line. env, when not nil, receives the envelope fields. inMulti says the
// entity is a part of a multipart (so it is MIME), digest that the
// multipart is multipart/digest. It returns at the end of input or at a
// boundary line of an enclosing multipart, left in p.hit.
func (p *summaryParser) parseEntity(bp *BodyPart, env *Envelope, inMulti, digest bool, depth int) {
	bp.Offset = p.off
	var h partHeader
	cut := p.parseHeader(&h, env)
	if cut {
		end, _ := p.end()
		bp.HeaderSize = end - bp.Offset
	} else {
		bp.HeaderSize = p.off - bp.Offset
	}
	if env != nil {
		if len(env.Sender) == 0 {
			env.Sender = env.From
		}
		if len(env.ReplyTo) == 0 {
			env.ReplyTo = env.From
		}
	}
	if !h.mime && !inMulti {
		h = partHeader{}
	}
	boundary := applyContentHeader(bp, &h, digest)
	bodyStart, nlStart := bp.BodyOffset(), p.nl
	if cut {
		_, nlStart = p.end()
	}
	multi := bp.Type == "multipart"
	msg := bp.Type == "message" && bp.Subtype == "rfc822"
	if (multi && boundary != "" || msg) && (depth >= maxMIMEDepth || p.parts >= maxMIMEParts) {
		// Too deep or too many parts: an opaque leaf.
		bp.Type, bp.Subtype = "application", "octet-stream"
		multi, msg = false, false
	}
	switch {
	case cut:
		// The header was cut short by a boundary: the body is empty.
	case multi && boundary != "":
		p.parseMultipart(bp, boundary, bp.Subtype == "digest", depth)
	case msg:
		p.parts++
		bp.Envelope = &Envelope{}
		bp.Message = &BodyPart{}
		p.parseEntity(bp.Message, bp.Envelope, false, false, depth+1)
	default:
		p.skipBody()
		if !cut && p.hit.valid && p.hit.end == bodyStart && bp.HeaderSize >= 2 {
			// The body is empty and a boundary follows the blank line:
			// that line's CRLF is the one before the boundary, which
			// belongs to the boundary (as Dovecot counts it).
			bp.HeaderSize -= 2
		}
	}
	end, nlEnd := p.end()
	bp.Size = end - bodyStart
	if bp.Type == "text" || msg {
		bp.Lines = nlEnd - nlStart
	}
	if msg && bp.Message == nil {
		// Cut short: an empty encapsulated message.
		bp.Envelope = &Envelope{}
		bp.Message = &BodyPart{Offset: bodyStart}
		applyContentHeader(bp.Message, &partHeader{}, false)
	}
	if multi && len(bp.Parts) == 0 {
		child := BodyPart{Offset: bodyStart}
		applyContentHeader(&child, &partHeader{}, false)
		bp.Parts = []BodyPart{child}
	}
}

// parseMultipart reads a multipart body: preamble, parts, epilogue.
func (p *summaryParser) parseMultipart(bp *BodyPart, boundary string, digest bool, depth int) {
	p.bounds = append(p.bounds, boundary)
	my := len(p.bounds) - 1
	defer func() {
		if len(p.bounds) > my {
			p.bounds = p.bounds[:my]
		}
	}()
	p.hit = boundaryHit{}
	p.skipBody() // preamble
	for p.hit.valid && p.hit.idx == my && !p.hit.close {
		p.hit = boundaryHit{}
		if p.parts >= maxMIMEParts {
			// Enough parts: the rest of the message is opaque.
			p.bounds = p.bounds[:0]
			p.skipBody()
			return
		}
		p.parts++
		bp.Parts = append(bp.Parts, BodyPart{})
		p.parseEntity(&bp.Parts[len(bp.Parts)-1], nil, true, digest, depth+1)
	}
	if p.hit.valid && p.hit.idx == my && p.hit.close {
		p.hit = boundaryHit{}
		p.bounds = p.bounds[:my]
		p.skipBody() // epilogue
	}
}

// applyContentHeader fills bp's content fields from h, with RFC 3501's
// defaults, and returns the multipart boundary ("" if none).
func applyContentHeader(bp *BodyPart, h *partHeader, digest bool) (boundary string) {
	var params []Param
	if h.seenCType {
		var typ, sub string
		typ, sub, params = parseContentType(h.ctype)
		if typ != "" {
			bp.RawType, bp.RawSubtype = typ, sub
			bp.Type, bp.Subtype = strings.ToLower(typ), strings.ToLower(sub)
		}
	}
	if bp.Type == "" {
		if digest {
			bp.Type, bp.Subtype = "message", "rfc822"
		} else {
			bp.Type, bp.Subtype = "text", "plain"
		}
		params = nil
	}
	if bp.Subtype == "" {
		if bp.Type == "text" {
			bp.Subtype = "plain"
		} else {
			bp.Subtype = "unknown"
		}
	}
	if bp.Type == "multipart" {
		boundary, _ = ParamValue(params, "boundary")
		if len(boundary) > maxBoundaryLen {
			boundary = ""
		}
	}
	bp.Params = params
	bp.Encoding = "7bit"
	if h.seenCTE {
		if tok, _ := mimeToken(h.cte); tok != "" {
			bp.RawEncoding = tok
			bp.Encoding = strings.ToLower(tok)
		}
	}
	bp.ID, bp.Description, bp.MD5, bp.Location = h.id, h.desc, h.md5, h.loc
	for _, f := range []struct {
		seen  bool
		value string
		field Fields
	}{{h.seenID, h.id, FieldID}, {h.seenDesc, h.desc, FieldDescription}, {h.seenMD5, h.md5, FieldMD5}, {h.seenLoc, h.loc, FieldLocation}} {
		if f.seen && f.value == "" {
			bp.Empty |= f.field
		}
	}
	if h.seenDisp {
		disp, rest := mimeToken(h.disp)
		if disp != "" {
			bp.RawDisposition = disp
			bp.Disposition = strings.ToLower(disp)
			bp.DispositionParams = parseParams(rest)
		}
	}
	if h.seenLang {
		for _, tag := range strings.Split(h.lang, ",") {
			if tag = strings.TrimSpace(stripComments(tag)); tag != "" {
				bp.Language = append(bp.Language, tag)
			}
		}
	}
	return boundary
}

// isTSpecial reports the RFC 2045 tspecials, plus space and controls.
func isTSpecial(c byte) bool {
	return c <= ' ' || c == 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0
}

// skipCFWS skips white space and comments.
func skipCFWS(s string) string {
	for len(s) > 0 {
		switch s[0] {
		case ' ', '\t', '\r', '\n':
			s = s[1:]
		case '(':
			_, s = readComment(s)
		default:
			return s
		}
	}
	return s
}

// readComment reads a (possibly nested) comment at the start of s and
// returns its text and the rest. An unterminated comment runs to the end.
func readComment(s string) (text, rest string) {
	depth := 0
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return b.String(), s[i+1:]
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

func stripComments(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		if s[0] == '(' {
			_, s = readComment(s)
			continue
		}
		if s[0] == '"' {
			q, rest := readQuoted(s)
			b.WriteString(q)
			s = rest
			continue
		}
		b.WriteByte(s[0])
		s = s[1:]
	}
	return b.String()
}

// readQuoted reads a quoted-string at the start of s (s[0] == '"') and
// returns its unescaped content and the rest. An unterminated one runs to
// the end.
func readQuoted(s string) (text, rest string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// mimeToken reads a token after optional white space and comments.
func mimeToken(s string) (tok, rest string) {
	s = skipCFWS(s)
	i := 0
	for i < len(s) && !isTSpecial(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// parseContentType parses "type/subtype; params". A missing or broken
// type gives "", which the caller turns into the default.
func parseContentType(v string) (typ, sub string, params []Param) {
	typ, rest := mimeToken(v)
	if typ == "" {
		return "", "", nil
	}
	rest = skipCFWS(rest)
	if strings.HasPrefix(rest, "/") {
		sub, rest = mimeToken(rest[1:])
	}
	return typ, sub, parseParams(rest)
}

// parseParams parses "; name=value" pairs leniently. Plain parameters
// come first, in order; RFC 2231 continuations are joined and follow,
// sorted by name (as Dovecot orders them).
func parseParams(s string) []Param {
	var list []Param
	for {
		s = skipCFWS(s)
		if s == "" {
			break
		}
		if s[0] != ';' {
			// Garbage: skip to the next ';'.
			i := strings.IndexByte(s, ';')
			if i < 0 {
				break
			}
			s = s[i:]
			continue
		}
		s = skipCFWS(s[1:])
		var name string
		name, s = mimeToken(s)
		s = skipCFWS(s)
		if name == "" || !strings.HasPrefix(s, "=") {
			continue
		}
		s = skipCFWS(s[1:])
		var value string
		if strings.HasPrefix(s, `"`) {
			value, s = readQuoted(s)
		} else {
			// Lenient: an unquoted value runs to ';' (Dovecot and others
			// accept spaces and specials there).
			i := strings.IndexByte(s, ';')
			if i < 0 {
				i = len(s)
			}
			value, s = strings.TrimSpace(s[:i]), s[i:]
		}
		list = append(list, Param{name, value})
	}
	if len(list) == 0 {
		return nil
	}
	type section struct {
		value    string
		extended bool
	}
	var out []Param
	var bases []string // continuation names, as first seen
	conts := map[string]map[int]section{}
	for _, pr := range list {
		base, num, extended, ok := splitContinuation(pr.Name)
		if !ok && len(pr.Name) > 1 && strings.HasSuffix(pr.Name, "*") {
			// An extended value in one piece ("name*=utf-8''x") is an
			// RFC 2231 parameter too, and sorts with them.
			base, num, extended, ok = pr.Name[:len(pr.Name)-1], 0, true, true
		}
		if !ok {
			out = append(out, pr)
			continue
		}
		key := strings.ToLower(base)
		if conts[key] == nil {
			conts[key] = map[int]section{}
			bases = append(bases, base)
		}
		if _, dup := conts[key][num]; !dup {
			conts[key][num] = section{pr.Value, extended}
		}
	}
	slices.SortStableFunc(bases, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, base := range bases {
		secs := conts[strings.ToLower(base)]
		first, ok := secs[0]
		if !ok {
			continue
		}
		var b strings.Builder
		for i := 0; ; i++ {
			sec, ok := secs[i]
			if !ok {
				break
			}
			b.WriteString(sec.value)
		}
		key := base
		if first.extended {
			key += "*"
		}
		out = append(out, Param{key, b.String()})
	}
	return out
}

// splitContinuation splits an RFC 2231 section name "name*3" or "name*3*".
func splitContinuation(name string) (base string, num int, extended, ok bool) {
	if strings.HasSuffix(name, "*") {
		extended = true
		name = name[:len(name)-1]
	}
	i := strings.LastIndexByte(name, '*')
	if i <= 0 || i == len(name)-1 || len(name)-i > 4 {
		return "", 0, false, false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return "", 0, false, false
		}
		num = num*10 + int(c-'0')
	}
	if name[i+1] == '0' && i+2 < len(name) {
		return "", 0, false, false // no leading zeros
	}
	return name[:i], num, extended, true
}

// Address lists (RFC 5322 §3.4), parsed leniently.

const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
	invalidRoute   = "INVALID_ROUTE"
)

type addrToken struct {
	kind byte // 'a' atom, 'q' quoted string, 'l' domain literal, 'c' comment, or a special: < > @ : ; ,
	text string
}

// addrLexer splits an address header value into tokens.
type addrLexer struct{ s string }

func (lx *addrLexer) next() (addrToken, bool) {
	for len(lx.s) > 0 && (lx.s[0] == ' ' || lx.s[0] == '\t' || lx.s[0] == '\r' || lx.s[0] == '\n') {
		lx.s = lx.s[1:]
	}
	if lx.s == "" {
		return addrToken{}, false
	}
	switch c := lx.s[0]; c {
	case '"':
		var t string
		t, lx.s = readQuoted(lx.s)
		return addrToken{'q', t}, true
	case '(':
		var t string
		t, lx.s = readComment(lx.s)
		return addrToken{'c', t}, true
	case '[':
		i := strings.IndexByte(lx.s, ']')
		if i < 0 {
			i = len(lx.s) - 1
		}
		t := lx.s[:i+1]
		lx.s = lx.s[i+1:]
		return addrToken{'l', t}, true
	case '<', '>', '@', ':', ';', ',':
		lx.s = lx.s[1:]
		return addrToken{c, ""}, true
	}
	i := 0
	for i < len(lx.s) && strings.IndexByte(" \t\r\n\"(<>@:;,[", lx.s[i]) < 0 {
		i++
	}
	if i == 0 { // a lone ']' or ')'
		i = 1
	}
	t := lx.s[:i]
	lx.s = lx.s[i:]
	return addrToken{'a', t}, true
}

// peek returns the next token without consuming it.
func (lx *addrLexer) peek() (addrToken, bool) {
	saved := lx.s
	t, ok := lx.next()
	lx.s = saved
	return t, ok
}

// parseAddressList parses an address-list header value. An empty value
// gives nil.
func parseAddressList(value []byte) []Address {
	lx := &addrLexer{s: string(value)}
	var out []Address
	inGroup := false
	for len(out) < maxAddresses {
		var words []string
		var stop addrToken
		stopped := false
		for {
			t, ok := lx.next()
			if !ok {
				break
			}
			if t.kind == 'a' || t.kind == 'q' || t.kind == 'l' {
				words = append(words, t.text)
				continue
			}
			if t.kind == 'c' {
				continue
			}
			stop, stopped = t, true
			break
		}
		switch {
		case stopped && stop.kind == ';' && !inGroup && len(words) == 0:
			// A list that starts an address with ';' cannot be read on:
			// Dovecot ends it with one missing address, and so do we.
			return append(out, fillMissing(Address{}))
		case stopped && stop.kind == ':' && !inGroup:
			out = append(out, Address{Mailbox: orMissing(strings.Join(words, " "), missingMailbox)})
			inGroup = true
			continue
		case stopped && stop.kind == '<':
			a := parseAngleAddr(lx)
			a.Name = strings.Join(words, " ")
			if a.Name == "" {
				a.Name = trailingComment(lx)
			}
			out = append(out, a)
		case stopped && stop.kind == '@':
			// A comment after the address is its name; one before it is
			// not (Dovecot does the same).
			a := Address{Mailbox: strings.Join(words, "")}
			a.Host, a.Name = readDomain(lx, "")
			if c := trailingComment(lx); c != "" {
				a.Name = c
			}
			out = append(out, fillMissing(a))
		default:
			if len(words) > 0 {
				out = append(out, fillMissing(Address{Mailbox: strings.Join(words, "")}))
			}
		}
		// Skip to the end of this address.
		for !stopped || (stop.kind != ',' && stop.kind != ';') {
			t, ok := lx.next()
			if !ok {
				stopped = false
				break
			}
			stop, stopped = t, true
		}
		if stopped && stop.kind == ';' && inGroup {
			out = append(out, Address{})
			inGroup = false
		}
		if !stopped {
			break
		}
	}
	if inGroup {
		out = append(out, Address{})
	}
	return out
}

func orMissing(s, missing string) string {
	if s == "" {
		return missing
	}
	return s
}

func fillMissing(a Address) Address {
	a.Mailbox = orMissing(a.Mailbox, missingMailbox)
	a.Host = orMissing(a.Host, missingDomain)
	return a
}

// parseAngleAddr reads "[@route,...:]local@domain>" after the '<'.
func parseAngleAddr(lx *addrLexer) Address {
	var a Address
	if t, ok := lx.peek(); ok && t.kind == '@' {
		// An obsolete source route, "@a,@b:", kept as Dovecot shows it.
		var route strings.Builder
		for {
			t, ok := lx.next()
			if !ok || t.kind == '>' {
				return fillMissing(Address{Route: invalidRoute})
			}
			if t.kind == ':' {
				break
			}
			switch t.kind {
			case 'a', 'l':
				route.WriteString(t.text)
			case '@', ',':
				route.WriteByte(t.kind)
			}
		}
		a.Route = route.String()
	}
	var local []string
	for {
		t, ok := lx.next()
		if !ok || t.kind == '>' {
			break
		}
		switch t.kind {
		case 'a', 'q', 'l':
			local = append(local, t.text)
		case '@':
			a.Host, _ = readDomain(lx, "")
			if t, ok := lx.peek(); ok && t.kind == '>' {
				lx.next()
			}
			a.Mailbox = strings.Join(local, "")
			return fillMissing(a)
		case ',', ';', '<':
			// Broken: leave the separator for the caller.
			lx.s = string(t.kind) + lx.s
			a.Mailbox = strings.Join(local, "")
			return fillMissing(a)
		}
	}
	a.Mailbox = strings.Join(local, "")
	return fillMissing(a)
}

// readDomain reads a domain after '@'. A comment inside is returned.
func readDomain(lx *addrLexer, comment string) (string, string) {
	var parts []string
	for {
		t, ok := lx.peek()
		if !ok {
			break
		}
		if t.kind == 'c' {
			lx.next()
			comment = t.text
			continue
		}
		if t.kind != 'a' && t.kind != 'l' {
			break
		}
		lx.next()
		parts = append(parts, t.text)
	}
	return strings.Join(parts, ""), comment
}

// trailingComment consumes comments before the next ',' or ';' and returns
// the last one.
func trailingComment(lx *addrLexer) string {
	c := ""
	for {
		t, ok := lx.peek()
		if !ok || t.kind != 'c' {
			return c
		}
		lx.next()
		c = t.text
	}
}
