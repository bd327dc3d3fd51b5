package imap

// BODY[section]<partial>, RFC822.* and BINARY[section]<partial> (RFC 3501
// §6.4.5, RFC 3516): which bytes of the message a section names, and
// streaming them out of the message file.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// shortSection bounds what is held in memory: a filtered header or a
// decoded BINARY part whose raw form is at most this long is produced once
// into memory; a longer one is produced twice, first only to count it.
const shortSection = 64 << 10

// span is a byte range of the CRLF form of the message.
type span struct{ off, n int64 }

// headerSpan is the header of a part, including the blank line after it.
func headerSpan(p *maildir.BodyPart) span { return span{p.Offset, p.HeaderSize} }

// bodySpan is the body of a part.
func bodySpan(p *maildir.BodyPart) span { return span{p.BodyOffset(), p.Size} }

// bodySection resolves a BODY section to the bytes it names; for
// HEADER.FIELDS (NOT) the span is the header the fields are taken from.
// A section naming no part of this message is empty (ok false), as with
// Dovecot: HEADER and TEXT of a part that is not message/rfc822 included.
func (f *fetcher) bodySection(bs *goimap.FetchItemBodySection) (sp span, ok bool, err error) {
	if len(bs.Part) == 0 && bs.Specifier == goimap.PartSpecifierNone {
		return span{0, f.info.Size}, true, nil // no need for the summary
	}
	s, err := f.summary()
	if err != nil {
		return span{}, false, err
	}
	if len(bs.Part) == 0 {
		switch bs.Specifier {
		case goimap.PartSpecifierHeader:
			return headerSpan(&s.Body), true, nil
		case goimap.PartSpecifierText:
			return bodySpan(&s.Body), true, nil
		}
		return span{}, false, nil
	}
	p, ok := s.Part(bs.Part...)
	if !ok {
		return span{}, false, nil
	}
	switch bs.Specifier {
	case goimap.PartSpecifierNone:
		return bodySpan(p), true, nil
	case goimap.PartSpecifierMIME:
		return headerSpan(p), true, nil
	}
	if !p.IsMessage() {
		return span{}, false, nil
	}
	if bs.Specifier == goimap.PartSpecifierHeader {
		return headerSpan(p.Message), true, nil
	}
	return bodySpan(p.Message), true, nil
}

// window applies a partial <offset.size> to a section of total bytes.
func window(total int64, partial *goimap.SectionPartial) (off, n int64) {
	if partial == nil {
		return 0, total
	}
	off = min(max(partial.Offset, 0), total)
	return off, min(max(partial.Size, 0), total-off)
}

func (f *fetcher) writeBodySection(o *fetchOut, bs *goimap.FetchItemBodySection) error {
	sp, ok, err := f.bodySection(bs)
	if err != nil {
		return err
	}
	open := func(n int64) io.WriteCloser { return nulWriter{o.literal(n, false)} }
	names, not := bs.HeaderFields, false
	if len(bs.HeaderFieldsNot) > 0 {
		names, not = bs.HeaderFieldsNot, true
	}
	if len(names) == 0 || !ok {
		off, n := window(sp.n, bs.Partial)
		return f.copySpan(open(n), span{sp.off + off, n})
	}
	want := make(map[string]bool, len(names))
	for _, name := range names {
		want[strings.ToUpper(name)] = true
	}
	return f.writeProduced(open, sp.n, bs.Partial, func(dst io.Writer) error {
		return f.withSpan(sp, func(r io.Reader) error { return filterHeader(dst, r, want, not) })
	})
}

// errParse answers BINARY of encoded data that does not decode (RFC 3516
// §4.3 leaves the code to the server; Dovecot's is PARSE).
var errParse = &goimap.Error{
	Type: goimap.StatusResponseTypeNo,
	Code: "PARSE",
	Text: "Invalid data in MIME part",
}

// binaryEntity resolves BINARY[part]: the whole message (whole), or a
// part; ok is false for a part the message does not have (its BINARY is
// empty).
func (f *fetcher) binaryEntity(part []int) (p *maildir.BodyPart, whole, ok bool, err error) {
	s, err := f.summary()
	if err != nil {
		return nil, false, false, err
	}
	if len(part) == 0 {
		return &s.Body, true, true, nil
	}
	p, ok = s.Part(part...)
	return p, false, ok, nil
}

// planBinaryItem is Dovecot's plan (binaryconv.go) for BINARY[part], or
// the reason it refuses it.
func (f *fetcher) planBinaryItem(part []int) (binaryResult, error) {
	p, whole, ok, err := f.binaryEntity(part)
	if err != nil || !ok {
		return binaryResult{}, err
	}
	res, err := planBinary(f.src.Open, p, whole)
	if err != nil {
		return res, fmt.Errorf("imap: reading UID %d: %w", f.info.UID, err)
	}
	return res, binaryError(res.Problem)
}

// binaryError is the answer to a BINARY Dovecot refuses. Where Dovecot
// hangs up (encoded data cut short), we answer as for broken data.
func binaryError(p binaryProblem) error {
	switch p {
	case binaryOK:
		return nil
	case binaryUnknownCTE:
		return errUnknownCTE
	}
	return errParse
}

// writeBinarySection writes BINARY[part]<partial> as planned by check.
func (f *fetcher) writeBinarySection(o *fetchOut, bs *goimap.FetchItemBinarySection, res binaryResult) error {
	p, whole, ok, err := f.binaryEntity(bs.Part)
	if err != nil {
		return err
	}
	if !ok {
		return finishLiteral(o.literal(0, false), 0, 0, nil)
	}
	off, n := window(res.Size, bs.Partial)
	lit := o.literal(n, res.Literal8)
	ww := &windowWriter{w: lit, skip: off, left: n}
	_, err = writeBinaryConverted(ww, f.src.Open, p, whole, res)
	return finishLiteral(lit, n-ww.left, n, err)
}

// identityEncoding reports a part whose body is sent as it is: composite
// parts, and the identity transfer encodings.
func identityEncoding(p *maildir.BodyPart) bool {
	if p.IsMultipart() || p.IsMessage() {
		return true
	}
	switch p.Encoding {
	case "", "7bit", "8bit", "binary":
		return true
	}
	return false
}

// knownEncoding reports whether BINARY can decode the part.
func knownEncoding(p *maildir.BodyPart) bool {
	return identityEncoding(p) || p.Encoding == "base64" || p.Encoding == "quoted-printable"
}

// withSpan opens the message, skips to sp and gives read a reader of its
// bytes.
func (f *fetcher) withSpan(sp span, read func(io.Reader) error) error {
	r, err := f.src.Open()
	if err != nil {
		return fmt.Errorf("imap: opening UID %d: %w", f.info.UID, err)
	}
	defer r.Close()
	if _, err := io.CopyN(io.Discard, r, sp.off); err != nil && err != io.EOF {
		return fmt.Errorf("imap: reading UID %d: %w", f.info.UID, err)
	}
	return read(io.LimitReader(r, sp.n))
}

// copySpan streams sp into the literal lit, which was announced with
// sp.n bytes, and closes it. A file shorter than that is padded with
// spaces, so the connection stays in step, and errShortMessage returned.
func (f *fetcher) copySpan(lit io.WriteCloser, sp span) error {
	var copied int64
	err := error(nil)
	if sp.n > 0 {
		err = f.withSpan(sp, func(r io.Reader) error {
			n, err := io.Copy(lit, r)
			copied = n
			return err
		})
	}
	return finishLiteral(lit, copied, sp.n, err)
}

// writeProduced writes a section whose length is known only once it has
// been produced: produce writes the whole section (before the partial
// window is applied). rawSize bounds its length.
func (f *fetcher) writeProduced(open func(int64) io.WriteCloser, rawSize int64, partial *goimap.SectionPartial,
	produce func(io.Writer) error) error {
	if rawSize <= shortSection {
		var buf bytes.Buffer
		if err := produce(&buf); err != nil {
			return err
		}
		data := buf.Bytes()
		off, n := window(int64(len(data)), partial)
		lit := open(n)
		_, err := lit.Write(data[off : off+n])
		return finishLiteral(lit, n, n, err)
	}
	var total countWriter
	if err := produce(&total); err != nil {
		return err
	}
	off, n := window(int64(total), partial)
	lit := open(n)
	ww := &windowWriter{w: lit, skip: off, left: n}
	err := produce(ww)
	return finishLiteral(lit, n-ww.left, n, err)
}

// finishLiteral pads lit to its announced size and closes it.
func finishLiteral(lit io.WriteCloser, written, size int64, err error) error {
	if written < size {
		pad := bytes.Repeat([]byte{' '}, int(min(size-written, 32<<10)))
		for written < size {
			n, werr := lit.Write(pad[:min(int64(len(pad)), size-written)])
			written += int64(n)
			if werr != nil {
				lit.Close()
				return werr
			}
		}
		if err == nil {
			err = errShortMessage
		}
	}
	if cerr := lit.Close(); err == nil {
		err = cerr
	}
	return err
}

// filterHeader copies the fields of a header whose names are (or, with
// not, are not) in want (upper case), in their order and with their
// continuation lines, then the blank line that ends the header (RFC 3501
// §6.4.5: "the subset of the header ... includes the delimiting blank
// line"). As with Dovecot, a header that runs to the end of the message
// gets a blank line too, unless what was copied ends without a line end.
// A line without a colon is a field named by the whole line.
func filterHeader(dst io.Writer, r io.Reader, want map[string]bool, not bool) error {
	br := bufio.NewReaderSize(r, 4096)
	dw := &errWriter{w: dst}
	keep, lineStart, blank, endsLine := false, true, false, true
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if lineStart {
				if isBlankLine(frag) && err != bufio.ErrBufferFull {
					blank = true
					break
				}
				if frag[0] != ' ' && frag[0] != '\t' {
					keep = want[fieldName(frag)] != not
				}
			}
			if keep {
				dw.Write(frag)
				endsLine = frag[len(frag)-1] == '\n'
			}
		}
		lineStart = err == nil
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
	}
	if blank || endsLine {
		dw.Write([]byte("\r\n"))
	}
	return dw.err
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// fieldName is the upper-cased name of the header field starting line.
func fieldName(line []byte) string {
	name := line
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name = line[:i]
	}
	return strings.ToUpper(string(bytes.TrimRight(name, " \t\r\n")))
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// windowWriter passes on the bytes [skip, skip+left) of what it is given.
type windowWriter struct {
	w          io.Writer
	skip, left int64
}

func (ww *windowWriter) Write(p []byte) (int, error) {
	n := len(p)
	if ww.skip > 0 {
		s := min(ww.skip, int64(len(p)))
		ww.skip -= s
		p = p[s:]
	}
	if int64(len(p)) > ww.left {
		p = p[:ww.left]
	}
	if len(p) > 0 {
		m, err := ww.w.Write(p)
		ww.left -= int64(m)
		if err != nil {
			return 0, writeError{err}
		}
	}
	return n, nil
}

// writeError marks an error of the destination, which must not be
// mistaken for a decoding error of the source.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

// readErr remembers a read error other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// newBase64Reader decodes base64 leniently: anything outside the alphabet
// is skipped; the data ends at the first error.
func newBase64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r})
}

// newQPReader decodes quoted-printable (RFC 2045 §6.7); the data ends at
// the first error (a control character, a broken soft line break).
func newQPReader(r io.Reader) io.Reader { return quotedprintable.NewReader(r) }

// base64Filter drops what is not base64 (line ends, white space, garbage)
// so that the decoder, which only skips line ends, sees clean input.
type base64Filter struct{ r io.Reader }

func (b *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := b.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
