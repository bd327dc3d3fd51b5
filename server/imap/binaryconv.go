package imap

// BINARY[section] and BINARY.SIZE[section] of a composite entity (the
// whole message, a multipart, a message/rfc822 part), made byte-identical
// to Dovecot 2.3 (index-mail-binary.c), which was probed for these rules:
//
//   - Every part inside the entity (the entity itself included) has its
//     header searched for Content-Transfer-Encoding, whatever its type and
//     whether or not it is a MIME part. The last such field wins; a part
//     without one is 7bit. The name is matched case-insensitively, with
//     blanks before the colon allowed; a line without a colon is no field.
//     The value is a MIME token between optional blanks and comments,
//     followed by nothing or by ";": "base64 x", "base64.", "base64/x" or
//     a quoted "base64" are unknown. A folded field is always unknown
//     (Dovecot parses only its last line, alone). 7bit, 8bit and binary
//     (any case) are left as they are.
//   - An unknown encoding anywhere inside the entity is NO [UNKNOWN-CTE],
//     checked before any data is decoded, so it wins over broken data.
//   - The header of a part (other than the entity's own header for
//     BINARY[n]) whose encoding is base64 or quoted-printable is
//     rewritten, multiparts and message/rfc822 parts included: every
//     Content-Transfer-Encoding field is dropped with its continuation
//     lines, and "Content-Transfer-Encoding: binary" is added as the last
//     field, just before the blank line. A header that ends without a
//     blank line (at the end of the message, or cut by a boundary) gets no
//     new field. Dovecot reads such a header on past its end, up to a blank
//     line, and its output then repeats what follows.
//   - The body of a leaf part so encoded is decoded; everything else
//     (other headers, preambles, boundaries, epilogues, other bodies) is
//     copied as it is.
//   - Dovecot checks the encoded data strictly. Base64: only the alphabet
//     and blanks and line ends, "=" padding only at the end of a 4-char
//     group (and "==" only in its third and fourth places), nothing but
//     blanks after it: else NO [PARSE]. Quoted-printable: "=" must be
//     followed by two hex digits (either case) or by blanks and a line
//     end, a CR by LF, and more than 76 blanks must not be followed by
//     text: else NO [PARSE]. Data that ends inside a base64 group, or a
//     quoted-printable body that ends in "=", "=X", "= " or CR, makes
//     Dovecot close the connection (* BYE, internal error) instead. The
//     first broken part in the order of the message decides.
//   - When no body was decoded at all (only headers rewritten), Dovecot
//     sends the length of the converted entity but the original bytes, cut
//     to that length; if the original is shorter it sends less than it
//     announced and closes the connection.
//   - The literal is a literal8 (~{n}) when some body was decoded or the
//     bytes sent contain NUL.
//   - BINARY.SIZE is computed from the whole message, so any problem in any
//     part of it is the answer, whatever the section. The size is the
//     entity's size with, for every rewritten part that starts inside the
//     entity, the part's original size replaced by its rewritten header
//     plus decoded body. A rewritten multipart or message/rfc822 thus
//     counts its children twice over (once inside its own original size,
//     once on their own), and Dovecot's unsigned arithmetic wraps around:
//     the size then differs from the length of BINARY[], and is sent as
//     such. (Dovecot compares a physical start offset with a CRLF length
//     there; that is exact only for files stored with CRLF line ends, and
//     needs the caller's help: see binarySizeDovecot.)
//
// Everything streams: headers are scanned ahead with a second reader, and
// only the few header lines Dovecot reads past the end of a header cut by a
// boundary are held in memory (at most maxHeaderLookahead bytes).

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/maildird/maildird/maildir"
)

// binaryProblem is what Dovecot answers instead of the converted data.
type binaryProblem int

const (
	binaryOK         binaryProblem = iota
	binaryUnknownCTE               // tagged NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding
	binaryBadData                  // tagged NO [PARSE] Invalid data in MIME part
	binaryCutData                  // encoded data ends early: * BYE, connection closed
	binaryShortRaw                 // announces Size, sends the raw entity (shorter), closes
)

func (p binaryProblem) String() string {
	switch p {
	case binaryOK:
		return "ok"
	case binaryUnknownCTE:
		return "UNKNOWN-CTE"
	case binaryBadData:
		return "PARSE"
	case binaryCutData:
		return "BYE"
	case binaryShortRaw:
		return "short"
	}
	return "?"
}

// binaryResult is what a first pass over an entity learns.
type binaryResult struct {
	Problem  binaryProblem
	Size     int64 // length of the BINARY literal Dovecot announces
	Decoded  bool  // some body was decoded: the original bytes are not sent as they are
	Literal8 bool  // Dovecot announces ~{Size} rather than {Size}
	Raw      int64 // length of the entity as stored (CRLF form)
}

// maxHeaderLookahead bounds the header lines kept when a header is read
// past its end (see above); longer runs are cut, which only differs from
// Dovecot for a header cut by a boundary and followed by a huge blank-free
// run of lines.
const maxHeaderLookahead = 64 << 10

// openFunc opens the message in its CRLF form, from its first byte.
type openFunc func() (io.ReadCloser, error)

// planBinary runs over the entity p (the whole message when whole) without
// writing anything, to learn the size and the problem Dovecot would have.
func planBinary(open openFunc, p *maildir.BodyPart, whole bool) (binaryResult, error) {
	e := &binEngine{open: open, validate: true}
	defer e.close()
	var c countWriter
	e.out = &c
	if err := e.run(p, whole); err != nil {
		return binaryResult{}, err
	}
	res := binaryResult{Size: int64(c), Decoded: e.decoded, Literal8: e.decoded || e.sawNUL, Raw: entityLen(p, whole)}
	res.Problem = e.problem()
	if res.Problem == binaryOK && !res.Decoded && res.Size > res.Raw {
		res.Problem = binaryShortRaw
	}
	return res, nil
}

// writeBinaryConverted writes Dovecot's BINARY bytes for the entity p (the
// whole message, header included, when whole), given the result of
// planBinary for the same entity; it returns how many bytes it wrote. With
// res.Problem set it writes what Dovecot would have sent before giving up:
// nothing, except for binaryShortRaw.
func writeBinaryConverted(dst io.Writer, open openFunc, p *maildir.BodyPart, whole bool, res binaryResult) (int64, error) {
	switch res.Problem {
	case binaryOK, binaryShortRaw:
	default:
		return 0, nil
	}
	cw := &countingWriter{w: dst}
	if !res.Decoded {
		// Dovecot sends the stored bytes, cut to the converted length.
		start := p.BodyOffset()
		if whole {
			start = 0
		}
		r, err := open()
		if err != nil {
			return 0, err
		}
		defer r.Close()
		if _, err := io.CopyN(io.Discard, r, start); err != nil {
			if err == io.EOF {
				return 0, nil
			}
			return 0, err
		}
		_, err = io.Copy(cw, io.LimitReader(r, min(res.Size, res.Raw)))
		return cw.n, err
	}
	e := &binEngine{open: open, out: cw}
	defer e.close()
	err := e.run(p, whole)
	return cw.n, err
}

// binarySizeDovecot is Dovecot's BINARY.SIZE of the entity p of the
// message whose root is root (whole: BINARY.SIZE[]). The size is unsigned
// because Dovecot's can wrap around (see above). phys maps an offset of
// the CRLF form to the same place in the file as stored, which Dovecot
// uses to decide which rewritten parts lie inside the entity; nil means
// the file is stored with CRLF line ends. With LF line ends and nil, a
// rewritten part just after the entity may be counted in or left out
// differently from Dovecot.
func binarySizeDovecot(open openFunc, root, p *maildir.BodyPart, whole bool, phys func(int64) int64) (uint64, binaryProblem, error) {
	var c countWriter
	e := &binEngine{open: open, validate: true, record: true, out: &c}
	defer e.close()
	if err := e.run(root, true); err != nil {
		return 0, binaryOK, err
	}
	if pr := e.problem(); pr != binaryOK {
		return 0, pr, nil
	}
	if phys == nil {
		phys = func(off int64) int64 { return off }
	}
	t := p
	if whole {
		t = root
	}
	size := uint64(t.HeaderSize) + uint64(t.Size)
	start := uint64(phys(t.Offset))
	end := start + size // a stored offset plus a CRLF length, as in Dovecot
	var own *binPart
	for i := range e.bins {
		b := &e.bins[i]
		at := uint64(phys(b.part.Offset))
		if at < start || at >= end {
			continue
		}
		if b.part.Offset == t.Offset && own == nil {
			own = b
		}
		size -= uint64(b.part.HeaderSize) + uint64(b.part.Size)
		size += uint64(b.hdr) + uint64(b.body)
	}
	if !whole {
		if own != nil {
			size -= uint64(own.hdr)
		} else {
			size -= uint64(t.HeaderSize)
		}
	}
	return size, binaryOK, nil
}

func entityLen(p *maildir.BodyPart, whole bool) int64 {
	if whole {
		return p.HeaderSize + p.Size
	}
	return p.Size
}

// binPart is a part whose header was rewritten: its new header length and
// decoded body length.
type binPart struct {
	part      *maildir.BodyPart
	hdr, body int64
}

// cte is the effect of a part's Content-Transfer-Encoding on BINARY.
type cte int

const (
	cteIdentity cte = iota
	cteBase64
	cteQP
	cteUnknown
)

// binEngine walks the parts of an entity in the order of the message,
// copying what stays and converting what changes. main is the reader the
// output comes from; scout reads headers ahead of it.
type binEngine struct {
	open        openFunc
	main, scout *posReader
	out         io.Writer
	validate    bool // check encoded data as Dovecot does
	record      bool // keep bins
	bins        []binPart

	decoded, sawNUL bool
	unknown         bool
	bad             binaryProblem // first broken data
}

func (e *binEngine) problem() binaryProblem {
	if e.unknown {
		return binaryUnknownCTE
	}
	return e.bad
}

func (e *binEngine) close() {
	for _, r := range []*posReader{e.main, e.scout} {
		if r != nil {
			r.rc.Close()
		}
	}
}

func (e *binEngine) run(p *maildir.BodyPart, whole bool) error {
	var err error
	if e.main, err = reopenAt(e.open, nil, 0); err != nil {
		return err
	}
	if !whole {
		if err := e.main.skipTo(p.BodyOffset()); err != nil {
			return err
		}
	}
	return e.part(p, whole, 0)
}

// part converts q; with hdr its header belongs to the output.
func (e *binEngine) part(q *maildir.BodyPart, hdr bool, depth int) error {
	scan, err := e.scanHeader(q)
	if err != nil {
		return err
	}
	if scan.cte == cteUnknown {
		e.unknown = true
	}
	converted := scan.cte == cteBase64 || scan.cte == cteQP
	var bp *binPart
	if hdr && converted {
		if err := e.copyTo(q.Offset); err != nil {
			return err
		}
		start := e.written()
		if err := e.writeHeader(q, scan); err != nil {
			return err
		}
		if len(scan.extra) == 1 && isBlankLine(scan.extra[0]) {
			// The summary gives the blank line ending an empty part's
			// header to the boundary after it, as Dovecot's parser
			// counts it; the header has written it already.
			if err := e.main.skipTo(q.Offset + q.HeaderSize + int64(len(scan.extra[0]))); err != nil {
				return err
			}
		}
		if e.record {
			e.bins = append(e.bins, binPart{part: q, hdr: e.written() - start})
			bp = &e.bins[len(e.bins)-1]
		}
	}
	end := q.BodyOffset() + q.Size
	// Parts nested deeper than this are not reached by Dovecot either:
	// maildir's summary stops at 100 levels.
	if (q.IsMultipart() || q.IsMessage()) && depth < 1000 {
		if q.IsMultipart() {
			for i := range q.Parts {
				if err := e.part(&q.Parts[i], true, depth+1); err != nil {
					return err
				}
			}
		} else if q.Message != nil {
			if err := e.part(q.Message, true, depth+1); err != nil {
				return err
			}
		}
		return e.copyTo(end)
	}
	if q.Size <= 0 {
		return e.copyTo(q.BodyOffset())
	}
	if !converted {
		return e.copyTo(end)
	}
	if err := e.copyTo(q.BodyOffset()); err != nil {
		return err
	}
	start := e.written()
	if err := e.decode(scan.cte, q.Size); err != nil {
		return err
	}
	e.decoded = true
	if bp != nil {
		bp.body = e.written() - start
	}
	return nil
}

func (e *binEngine) written() int64 {
	switch w := e.out.(type) {
	case *countWriter:
		return int64(*w)
	case *countingWriter:
		return w.n
	}
	return 0
}

// copyTo copies the stored bytes up to off.
func (e *binEngine) copyTo(off int64) error {
	n := off - e.main.pos
	if n <= 0 {
		return nil
	}
	if !e.sawNUL {
		// NULs make Dovecot send a literal8; only the plan needs to know.
		if _, ok := e.out.(*countWriter); ok {
			_, err := io.CopyN(&nulWatch{w: e.out, seen: &e.sawNUL}, e.main, n)
			return eofOK(err)
		}
	}
	_, err := io.CopyN(e.out, e.main, n)
	return eofOK(err)
}

// decode writes n stored bytes with their transfer encoding undone. The
// decoders end the output where the data breaks; Dovecot refuses such data
// anyway (the check tells), so only read and write errors matter here.
func (e *binEngine) decode(c cte, n int64) error {
	src := &readErr{r: io.LimitReader(e.main, n)}
	var in io.Reader = src
	var check interface {
		io.Writer
		finish() binaryProblem
	}
	if e.validate {
		if c == cteBase64 {
			check = &base64Check{}
		} else {
			check = &qpCheck{}
		}
		in = io.TeeReader(src, check)
	}
	var dec io.Reader
	if c == cteBase64 {
		dec = newBase64Reader(in)
	} else {
		dec = newQPReader(&qpTidy{r: in})
	}
	_, err := io.Copy(e.out, dec)
	var werr writeError
	if errors.As(err, &werr) {
		return err
	}
	// The decoder may have stopped early; the rest is still the part's.
	io.Copy(io.Discard, in)
	if src.err != nil {
		return src.err
	}
	if check != nil && e.bad == binaryOK {
		e.bad = check.finish()
	}
	return nil
}

// headerScan is what a part's header says for BINARY.
type headerScan struct {
	cte   cte
	extra [][]byte // lines Dovecot reads past the header's end
	eoh   bool     // the header ends with a blank line
}

// scanHeader reads q's header as Dovecot's header parser does: from its
// start to a blank line or the end of the message, past q.HeaderSize if
// need be (a header cut by a boundary).
func (e *binEngine) scanHeader(q *maildir.BodyPart) (headerScan, error) {
	var err error
	if e.scout, err = reopenAt(e.open, e.scout, q.Offset); err != nil {
		return headerScan{}, err
	}
	var hs headerScan
	spanEnd := q.Offset + q.HeaderSize
	var lr lineReader
	lr.r = e.scout
	field := cteIdentity
	inCTE := false
	kept := 0
	for {
		lineStart := e.scout.pos
		line, full, err := lr.next()
		if err != nil {
			return hs, err
		}
		if line == nil {
			break
		}
		if lineStart >= spanEnd && kept < maxHeaderLookahead {
			kept += len(line)
			hs.extra = append(hs.extra, append([]byte(nil), line...))
		}
		if isBlankLine(line) {
			hs.eoh = true
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if inCTE {
				field = cteUnknown
			}
		} else if isCTEField(line) {
			inCTE = true
			field = parseCTE(fieldValue(line), full)
		} else {
			inCTE = false
		}
		lr.skipRest()
	}
	hs.cte = field
	return hs, nil
}

// writeHeader writes q's header without its Content-Transfer-Encoding
// fields and with the binary one added, reading it again from main.
func (e *binEngine) writeHeader(q *maildir.BodyPart, hs headerScan) error {
	spanEnd := q.Offset + q.HeaderSize
	ew := &errWriter{w: e.out}
	drop := false
	emit := func(line []byte, first bool) bool {
		if first {
			if isBlankLine(line) {
				ew.Write([]byte("Content-Transfer-Encoding: binary\r\n"))
				ew.Write(line)
				return true
			}
			if line[0] != ' ' && line[0] != '\t' {
				drop = isCTEField(line)
			}
		}
		if !drop {
			ew.Write(line)
		}
		return false
	}
	var lr lineReader
	lr.r = e.main
	done := false
	for !done && e.main.pos < spanEnd {
		line, _, err := lr.nextFrag(spanEnd - e.main.pos)
		if err != nil {
			return err
		}
		if line == nil {
			break
		}
		done = emit(line, lr.first)
	}
	for _, line := range hs.extra {
		if done {
			break
		}
		done = emit(line, true)
	}
	return ew.err
}

// isCTEField reports whether line starts a Content-Transfer-Encoding field.
func isCTEField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return false
	}
	return bytes.EqualFold(bytes.TrimRight(line[:i], " \t"), []byte("Content-Transfer-Encoding"))
}

func fieldValue(line []byte) []byte {
	v := line[bytes.IndexByte(line, ':')+1:]
	return bytes.TrimRight(v, "\r\n")
}

// parseCTE reads a one-line Content-Transfer-Encoding value; full is false
// when the line was too long to be seen whole, which no valid value is.
func parseCTE(v []byte, full bool) cte {
	if !full {
		return cteUnknown
	}
	v = skipCFWS(v)
	i := 0
	for i < len(v) && isTokenChar(v[i]) {
		i++
	}
	tok, rest := v[:i], skipCFWS(v[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return cteUnknown
	}
	switch {
	case bytes.EqualFold(tok, []byte("7bit")), bytes.EqualFold(tok, []byte("8bit")), bytes.EqualFold(tok, []byte("binary")):
		return cteIdentity
	case bytes.EqualFold(tok, []byte("base64")):
		return cteBase64
	case bytes.EqualFold(tok, []byte("quoted-printable")):
		return cteQP
	}
	return cteUnknown
}

// skipCFWS skips blanks and (nested) comments; an unterminated comment
// runs to the end.
func skipCFWS(v []byte) []byte {
	for len(v) > 0 {
		switch v[0] {
		case ' ', '\t', '\r', '\n':
			v = v[1:]
		case '(':
			depth := 0
			i := 0
			for ; i < len(v); i++ {
				if v[i] == '\\' {
					i++
					continue
				}
				if v[i] == '(' {
					depth++
				} else if v[i] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if i >= len(v) {
				return nil
			}
			v = v[i+1:]
		default:
			return v
		}
	}
	return v
}

// isTokenChar: RFC 2045 token characters (8-bit bytes count, as with
// Dovecot's atext).
func isTokenChar(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=':
		return false
	}
	return true
}

// posReader is a buffered reader of the message that knows its offset.
type posReader struct {
	rc  io.ReadCloser
	br  *bufio.Reader
	pos int64
}

func (r *posReader) Read(p []byte) (int, error) {
	n, err := r.br.Read(p)
	r.pos += int64(n)
	return n, err
}

func (r *posReader) skipTo(off int64) error {
	if off <= r.pos {
		return nil
	}
	_, err := io.CopyN(io.Discard, r, off-r.pos)
	return eofOK(err)
}

// reopenAt gives a reader at off: r itself when it is not past off.
func reopenAt(open openFunc, r *posReader, off int64) (*posReader, error) {
	if r == nil || r.pos > off {
		if r != nil {
			r.rc.Close()
		}
		rc, err := open()
		if err != nil {
			return nil, err
		}
		r = &posReader{rc: rc, br: bufio.NewReaderSize(rc, 16<<10)}
	}
	return r, r.skipTo(off)
}

// lineReader reads lines of any length as fragments of the buffer.
type lineReader struct {
	r     *posReader
	first bool // the fragment nextFrag returned starts a line
	mid   bool // inside a line
}

// next returns the next line's first fragment (nil at the end); full is
// false when the line goes on (call skipRest).
func (l *lineReader) next() (line []byte, full bool, err error) {
	b, err := l.r.br.ReadSlice('\n')
	l.r.pos += int64(len(b))
	if err == bufio.ErrBufferFull {
		l.mid = true
		return b, false, nil
	}
	l.mid = false
	if len(b) > 0 {
		return b, true, nil
	}
	return nil, true, eofOK(err)
}

func (l *lineReader) skipRest() {
	for l.mid {
		b, err := l.r.br.ReadSlice('\n')
		l.r.pos += int64(len(b))
		l.mid = err == bufio.ErrBufferFull
	}
}

// nextFrag returns the next fragment of at most max bytes.
func (l *lineReader) nextFrag(max int64) ([]byte, bool, error) {
	l.first = !l.mid
	peek, err := l.r.br.Peek(1)
	if len(peek) == 0 {
		return nil, true, eofOK(err)
	}
	n := l.r.br.Buffered()
	buf, _ := l.r.br.Peek(n)
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
		l.mid = false
	} else {
		l.mid = true
	}
	if int64(len(buf)) > max {
		buf = buf[:max]
		l.mid = true
	}
	out := append([]byte(nil), buf...)
	l.r.br.Discard(len(buf))
	l.r.pos += int64(len(buf))
	if l.mid && len(out) > 0 && out[len(out)-1] == '\n' {
		l.mid = false
	}
	return out, true, nil
}

func eofOK(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil
	}
	return err
}

// countingWriter passes writes on and counts them.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		return n, writeError{err}
	}
	return n, nil
}

// nulWatch notes a NUL in what passes through it.
type nulWatch struct {
	w    io.Writer
	seen *bool
}

func (n *nulWatch) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, 0) >= 0 {
		*n.seen = true
	}
	return n.w.Write(p)
}

// qpTidy rewrites quoted-printable that Dovecot decodes but newQPReader
// refuses into an equivalent form it takes: control characters (Dovecot
// passes them on) become =XX, and a soft line break cuts lines long enough
// to overflow the reader's line buffer.
type qpTidy struct {
	r    io.Reader
	buf  [4096]byte
	out  []byte
	eq   int // 1 after "=", 2 after "=X"
	col  int
	rerr error
}

const qpTidyLine = 1000

func (q *qpTidy) Read(p []byte) (int, error) {
	for len(q.out) == 0 {
		if q.rerr != nil {
			return 0, q.rerr
		}
		n, err := q.r.Read(q.buf[:len(q.buf)/4])
		q.rerr = err
		out := q.buf[len(q.buf)/4 : len(q.buf)/4]
		for _, b := range q.buf[:n] {
			if q.eq == 0 && (b < ' ' && b != '\t' && b != '\r' && b != '\n' || b == 0x7f) {
				const hex = "0123456789ABCDEF"
				out = append(out, '=', hex[b>>4], hex[b&15])
				q.col += 3
				continue
			}
			out = append(out, b)
			switch {
			case q.eq == 1 && isHex(b):
				q.eq = 2
			case q.eq == 0 && b == '=':
				q.eq = 1
			default:
				q.eq = 0
			}
			q.col++
			if b == '\n' {
				q.col = 0
			}
			if q.col >= qpTidyLine && q.eq == 0 && b != '=' && b != ' ' && b != '\t' && b != '\r' {
				out = append(out, '=', '\r', '\n')
				q.col = 0
			}
		}
		q.out = out
	}
	n := copy(p, q.out)
	q.out = q.out[n:]
	return n, nil
}

// base64Check follows Dovecot's base64 decoder to find what it refuses.
type base64Check struct {
	pos        int  // place in the 4-char group
	half, done bool // "=" seen in third place; padding complete
	bad        bool
}

func (c *base64Check) Write(p []byte) (int, error) {
	for _, b := range p {
		if c.bad {
			break
		}
		switch {
		case b == ' ' || b == '\t' || b == '\r' || b == '\n':
		case c.done:
			c.bad = true
		case b == '=':
			switch {
			case c.pos == 2:
				c.pos, c.half = 3, true
			case c.pos == 3:
				c.done, c.half, c.pos = true, false, 0
			default:
				c.bad = true
			}
		case b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/':
			if c.half {
				c.bad = true
			}
			c.pos = (c.pos + 1) % 4
		default:
			c.bad = true
		}
	}
	return len(p), nil
}

func (c *base64Check) finish() binaryProblem {
	switch {
	case c.bad:
		return binaryBadData
	case c.pos != 0 || c.half:
		return binaryCutData
	}
	return binaryOK
}

// qpCheck follows Dovecot's quoted-printable decoder to find what it
// refuses.
type qpCheck struct {
	state  int
	blanks int
	bad    bool
}

const (
	qpText = iota
	qpBlank
	qpEquals
	qpHex2
	qpEqualsBlank
	qpCR
	qpSoftCR
)

// maxQPBlanks: past this many blanks in a row, text may not follow.
const maxQPBlanks = 76

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'F' || b >= 'a' && b <= 'f'
}

func (c *qpCheck) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && !c.bad; i++ {
		b := p[i]
		switch c.state {
		case qpText:
			switch b {
			case '=':
				c.state = qpEquals
			case '\r':
				c.state = qpCR
			case ' ', '\t':
				c.state, c.blanks = qpBlank, 1
			}
		case qpBlank:
			switch b {
			case ' ', '\t':
				c.blanks++
			case '\r':
				c.state = qpCR
			case '\n':
				c.state = qpText
			default:
				if c.blanks > maxQPBlanks {
					c.bad = true
				}
				c.state = qpText
				i-- // look at it again as text
			}
		case qpEquals:
			switch {
			case isHex(b):
				c.state = qpHex2
			case b == ' ' || b == '\t':
				c.state = qpEqualsBlank
			case b == '\r':
				c.state = qpSoftCR
			case b == '\n':
				c.state = qpText
			default:
				c.bad = true
			}
		case qpHex2:
			if !isHex(b) {
				c.bad = true
			}
			c.state = qpText
		case qpEqualsBlank:
			switch b {
			case ' ', '\t':
			case '\r':
				c.state = qpSoftCR
			case '\n':
				c.state = qpText
			default:
				c.bad = true
			}
		case qpCR, qpSoftCR:
			if b != '\n' {
				c.bad = true
			}
			c.state = qpText
		}
	}
	return len(p), nil
}

func (c *qpCheck) finish() binaryProblem {
	switch {
	case c.bad:
		return binaryBadData
	case c.state != qpText && c.state != qpBlank:
		return binaryCutData
	}
	return binaryOK
}
