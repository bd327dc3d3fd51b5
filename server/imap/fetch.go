package imap

// FETCH data items (RFC 3501 §6.4.5 and §7.4.2, RFC 9051 §6.4.5 and
// §7.5.2, RFC 3516 for BINARY), answered from maildir's summary of a
// message and from the message file, streamed, and written byte for byte
// as Dovecot 2.3 writes them (wire.go has the string rules).
//
// go-imap parses the command, but its FetchResponseWriter chooses its own
// order, names and quoting, so the responses are written here, straight
// to the connection: imapserver flushes its own buffer after every
// response line, and writes nothing else while a command runs, so the two
// never interleave. The order and the names come from the command as the
// client sent it (conn.go records it); Dovecot answers the items it keeps
// in memory (UID, FLAGS, INTERNALDATE, RFC822.SIZE) first, in the
// request's order, UID leading in UID FETCH, then the others in the
// request's order, each item once, sections under the name the client
// gave (upper-cased, with the partial's origin). Without the command text
// (a command that had a literal) the items follow go-imap's order.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// messageSource gives what FETCH and SEARCH need of one message of the
// selected mailbox.
type messageSource interface {
	Info() maildir.Message              // UID, Flags, Keywords, Size (CRLF), Date
	Summary() (*maildir.Summary, error) // parsed structure (cached by maildir)
	Open() (io.ReadCloser, error)       // the message with CRLF line ends, streamed
}

type itemKind uint8

const (
	itemUID itemKind = iota
	itemFlags
	itemInternalDate
	itemSize
	itemEnvelope
	itemBody
	itemBodyStructure
	itemSection
	itemBinary
	itemBinarySize
)

// buffered reports the items Dovecot answers before the others.
func (k itemKind) buffered() bool { return k <= itemSize }

// fetchItem is one data item of a FETCH response.
type fetchItem struct {
	kind    itemKind
	name    string // the section items' name, partial origin included
	section *goimap.FetchItemBodySection
	binary  *goimap.FetchItemBinarySection
	binSize *goimap.FetchItemBinarySectionSize
}

// fetchPlan is what one FETCH command asks of every message.
type fetchPlan struct {
	items    []fetchItem
	setsSeen bool // a section without PEEK: \Seen is set
	flagsAt  int  // where FLAGS go when \Seen was set and not asked for
	hasFlags bool

	needsSummary bool // an item is answered from the message's summary
}

// newFetchPlan orders options after the command the client sent, when
// cmd holds it.
func newFetchPlan(options *goimap.FetchOptions, cmd string, haveCmd bool) *fetchPlan {
	var items []fetchItem
	uidFirst := options.UID
	if haveCmd {
		items, uidFirst = itemsFromCommand(options, cmd)
	}
	if items == nil {
		items, uidFirst = itemsFromOptions(options), options.UID
	}
	p := &fetchPlan{}
	seen := map[itemKind]bool{}
	var late []fetchItem
	if uidFirst {
		p.items = append(p.items, fetchItem{kind: itemUID})
		seen[itemUID] = true
	}
	for _, it := range items {
		if it.kind < itemSection {
			if seen[it.kind] {
				continue
			}
			seen[it.kind] = true
		}
		if it.kind.buffered() {
			p.items = append(p.items, it)
		} else {
			late = append(late, it)
		}
	}
	p.flagsAt = len(p.items)
	p.items = append(p.items, late...)
	p.hasFlags = seen[itemFlags]
	for _, it := range p.items {
		switch it.kind {
		case itemEnvelope, itemBody, itemBodyStructure, itemBinary, itemBinarySize:
			p.needsSummary = true
		case itemSection:
			p.needsSummary = p.needsSummary || len(it.section.Part) > 0 || it.section.Specifier != goimap.PartSpecifierNone
		}
	}
	for _, bs := range options.BodySection {
		p.setsSeen = p.setsSeen || !bs.Peek
	}
	for _, bs := range options.BinarySection {
		p.setsSeen = p.setsSeen || !bs.Peek
	}
	return p
}

// itemsFromOptions lists the items in go-imap's order, named from the
// parsed sections.
func itemsFromOptions(o *goimap.FetchOptions) []fetchItem {
	var items []fetchItem
	add := func(on bool, k itemKind) {
		if on {
			items = append(items, fetchItem{kind: k})
		}
	}
	add(o.Flags, itemFlags)
	add(o.InternalDate, itemInternalDate)
	add(o.RFC822Size, itemSize)
	add(o.Envelope, itemEnvelope)
	if o.BodyStructure != nil {
		add(!o.BodyStructure.Extended, itemBody)
		add(o.BodyStructure.Extended, itemBodyStructure)
	}
	for _, bs := range o.BodySection {
		items = append(items, fetchItem{kind: itemSection, section: bs, name: sectionName("BODY", bs.Part, sectionText(bs), bs.Partial)})
	}
	for _, bs := range o.BinarySection {
		items = append(items, fetchItem{kind: itemBinary, binary: bs, name: sectionName("BINARY", bs.Part, "", bs.Partial)})
	}
	for _, bs := range o.BinarySectionSize {
		items = append(items, fetchItem{kind: itemBinarySize, binSize: bs, name: sectionName("BINARY.SIZE", bs.Part, "", nil)})
	}
	return items
}

// sectionText is the specifier of a parsed body section, as Dovecot
// echoes it.
func sectionText(bs *goimap.FetchItemBodySection) string {
	spec := strings.ToUpper(string(bs.Specifier))
	names := bs.HeaderFields
	if len(bs.HeaderFieldsNot) > 0 {
		spec += ".FIELDS.NOT"
		names = bs.HeaderFieldsNot
	} else if len(names) > 0 {
		spec += ".FIELDS"
	}
	if len(names) > 0 {
		spec += " (" + strings.ToUpper(strings.Join(names, " ")) + ")"
	}
	return spec
}

func sectionName(item string, part []int, spec string, partial *goimap.SectionPartial) string {
	var b strings.Builder
	b.WriteString(item)
	b.WriteByte('[')
	for i, n := range part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if len(part) > 0 && spec != "" {
		b.WriteByte('.')
	}
	b.WriteString(spec)
	b.WriteByte(']')
	if partial != nil {
		fmt.Fprintf(&b, "<%d>", partial.Offset)
	}
	return b.String()
}

// itemsFromCommand lists the items of a FETCH command line in its order,
// matched with the sections go-imap parsed from it, and reports a UID
// FETCH; nil when the line cannot be read or does not match them.
func itemsFromCommand(o *goimap.FetchOptions, cmd string) (items []fetchItem, uidFetch bool) {
	f := strings.Fields(cmd)
	// tag [UID] FETCH set atts
	i := 1
	if i < len(f) && strings.EqualFold(f[i], "UID") {
		i++
		uidFetch = true
	}
	if i+2 >= len(f) || !strings.EqualFold(f[i], "FETCH") {
		return nil, false
	}
	rest := cmd
	for k := 0; k <= i+1; k++ {
		rest = strings.TrimLeft(rest, " ")
		rest = rest[strings.IndexByte(rest, ' ')+1:]
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		rest = rest[1 : len(rest)-1]
	}
	var bodies, binaries, sizes int
	for rest = strings.TrimLeft(rest, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		n := 0
		for n < len(rest) && rest[n] != ' ' && rest[n] != '[' {
			n++
		}
		name := strings.ToUpper(rest[:n])
		rest = rest[n:]
		spec, hasSection := "", false
		if strings.HasPrefix(rest, "[") {
			end := sectionEnd(rest)
			if end < 0 {
				return nil, false
			}
			spec, hasSection = strings.ToUpper(rest[1:end]), true
			rest = rest[end+1:]
		}
		origin := ""
		if strings.HasPrefix(rest, "<") {
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return nil, false
			}
			origin = rest[1:end]
			if dot := strings.IndexByte(origin, '.'); dot >= 0 {
				origin = origin[:dot]
			}
			origin = "<" + origin + ">"
			rest = rest[end+1:]
		}
		simple := func(k itemKind) { items = append(items, fetchItem{kind: k}) }
		switch {
		case name == "ALL" || name == "FAST" || name == "FULL":
			simple(itemFlags)
			simple(itemInternalDate)
			simple(itemSize)
			if name != "FAST" {
				simple(itemEnvelope)
			}
			if name == "FULL" {
				simple(itemBody)
			}
		case hasSection && (name == "BODY" || name == "BODY.PEEK"):
			if bodies >= len(o.BodySection) {
				return nil, false
			}
			items = append(items, fetchItem{kind: itemSection, section: o.BodySection[bodies], name: "BODY[" + spec + "]" + origin})
			bodies++
		case name == "RFC822" || name == "RFC822.HEADER" || name == "RFC822.TEXT" || name == "RFC822.PEEK":
			if bodies >= len(o.BodySection) {
				return nil, false
			}
			items = append(items, fetchItem{kind: itemSection, section: o.BodySection[bodies], name: name})
			bodies++
		case hasSection && (name == "BINARY" || name == "BINARY.PEEK"):
			if binaries >= len(o.BinarySection) {
				return nil, false
			}
			items = append(items, fetchItem{kind: itemBinary, binary: o.BinarySection[binaries], name: "BINARY[" + spec + "]" + origin})
			binaries++
		case hasSection && name == "BINARY.SIZE":
			if sizes >= len(o.BinarySectionSize) {
				return nil, false
			}
			items = append(items, fetchItem{kind: itemBinarySize, binSize: o.BinarySectionSize[sizes], name: "BINARY.SIZE[" + spec + "]"})
			sizes++
		case hasSection:
			return nil, false
		case name == "UID":
			simple(itemUID)
		case name == "FLAGS":
			simple(itemFlags)
		case name == "INTERNALDATE":
			simple(itemInternalDate)
		case name == "RFC822.SIZE":
			simple(itemSize)
		case name == "ENVELOPE":
			simple(itemEnvelope)
		case name == "BODY":
			simple(itemBody)
		case name == "BODYSTRUCTURE":
			simple(itemBodyStructure)
		default:
			return nil, false
		}
	}
	if bodies != len(o.BodySection) || binaries != len(o.BinarySection) || sizes != len(o.BinarySectionSize) {
		return nil, false
	}
	return items, uidFetch
}

// sectionEnd finds the ']' closing the section that s starts with,
// skipping quoted strings.
func sectionEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ']':
			return i
		}
	}
	return -1
}

// fetchOut writes FETCH responses to the connection.
type fetchOut struct {
	conn net.Conn
	w    io.Writer // bw, while open
	bw   *bufio.Writer
	err  error // the first write error: the connection is then out of step
}

// respTimeout bounds each write to a client that stopped reading.
const respTimeout = 5 * time.Minute

// fetchBuffers are twice the connection's coalescing buffer (conn.go), so
// that a full one goes to the socket in one write, without being copied
// into the connection's buffer first.
var fetchBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 2*flushBuffer) }}

func newFetchOut(c net.Conn) *fetchOut {
	o := &fetchOut{conn: c}
	o.bw = fetchBuffers.Get().(*bufio.Writer)
	o.bw.Reset(deadlineWriter{o})
	o.w = o.bw
	return o
}

// deadlineWriter sets a write deadline before each write to the
// connection.
type deadlineWriter struct{ o *fetchOut }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.o.conn.SetWriteDeadline(time.Now().Add(respTimeout))
	return d.o.conn.Write(p)
}

// close flushes what is buffered and gives the buffer back.
func (o *fetchOut) close() error {
	var err error
	if o.bw != nil {
		err = o.bw.Flush()
		o.bw.Reset(nil)
		fetchBuffers.Put(o.bw)
		o.bw = nil
	}
	o.conn.SetWriteDeadline(time.Time{})
	if o.err == nil {
		o.err = err
	}
	return o.err
}

func (o *fetchOut) write(b []byte) {
	if o.err == nil {
		_, o.err = o.w.Write(b)
	}
}

func (o *fetchOut) writeString(s string) {
	if o.err == nil {
		_, o.err = io.WriteString(o.w, s)
	}
}

// literal announces a literal of n bytes (a literal8, "~{n}", when
// binary) and returns the writer its bytes go to.
func (o *fetchOut) literal(n int64, binary bool) io.WriteCloser {
	var b []byte
	if binary {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "}\r\n"...)
	o.write(b)
	return literalWriter{o}
}

type literalWriter struct{ o *fetchOut }

func (l literalWriter) Write(p []byte) (int, error) {
	l.o.write(p)
	if l.o.err != nil {
		return 0, l.o.err
	}
	return len(p), nil
}

func (l literalWriter) Close() error { return l.o.err }

// nulWriter turns NUL bytes into 0x80, as Dovecot does in BODY sections:
// a literal must not hold NUL (RFC 3501 §4.3).
type nulWriter struct{ w io.WriteCloser }

func (n nulWriter) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, 0) < 0 {
		return n.w.Write(p)
	}
	q := bytes.ReplaceAll(p, []byte{0}, []byte{0x80})
	if _, err := n.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n nulWriter) Close() error { return n.w.Close() }

// internalDateLayout is INTERNALDATE's date-time, day zero-padded as
// Dovecot writes it.
const internalDateLayout = "02-Jan-2006 15:04:05 -0700"

// writeFetchItems writes the FETCH response of message seq: the items of
// plan, with FLAGS added where Dovecot adds them when addFlags (this
// FETCH set \Seen and the client did not ask for FLAGS). Bodies are
// streamed from the message file; only short pieces (under shortSection
// bytes) that must be measured before they are sent are held in memory.
//
// An error is returned before anything is written for a request that
// cannot be answered (BINARY of an unknown Content-Transfer-Encoding,
// RFC 3516 §4.2: an *imap.Error with the UNKNOWN-CTE code). Any other
// error may leave a partial response, its literals padded to their
// announced sizes; the caller should end the connection when o.err is
// set.
func writeFetchItems(o *fetchOut, seq uint32, src messageSource, plan *fetchPlan,
	flags func(maildir.Message) []goimap.Flag, addFlags bool) error {
	f := &fetcher{src: src, info: src.Info()}
	items := plan.items
	failAt, failErr := f.check(plan)
	if failErr != nil {
		var ierr *goimap.Error
		if !errors.As(failErr, &ierr) || ierr.Type != goimap.StatusResponseTypeNo {
			return failErr
		}
		// Dovecot has begun the response when an item fails: it sends
		// the items before it (the UID when there are none), then NO.
		items = items[:failAt]
		if len(items) == 0 {
			items = []fetchItem{{kind: itemUID}}
		}
	}
	if plan.needsSummary {
		// Load it now, so that a message gone since is reported before
		// anything of its response is written.
		if _, err := f.summary(); err != nil {
			return err
		}
	}
	var head []byte
	head = append(head, "* "...)
	head = strconv.AppendUint(head, uint64(seq), 10)
	head = append(head, " FETCH ("...)
	o.write(head)
	first := true
	sep := func() {
		if !first {
			o.writeString(" ")
		}
		first = false
	}
	for i := 0; i <= len(items); i++ {
		if i == plan.flagsAt && addFlags && !plan.hasFlags {
			sep()
			o.write(appendFlags(nil, flags(f.info)))
		}
		if i == len(items) {
			break
		}
		it := &items[i]
		sep()
		if err := f.writeItem(o, i, it, flags); err != nil {
			// Literals were padded to their announced length: ending the
			// response keeps the client in step.
			o.writeString(")\r\n")
			return err
		}
		if o.err != nil {
			return o.err
		}
	}
	o.writeString(")\r\n")
	if o.err != nil {
		return o.err
	}
	return failErr
}

func appendFlags(b []byte, flags []goimap.Flag) []byte {
	b = append(b, "FLAGS ("...)
	for i, fl := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, fl...)
	}
	return append(b, ')')
}

func (f *fetcher) writeItem(o *fetchOut, i int, it *fetchItem, flags func(maildir.Message) []goimap.Flag) error {
	var b []byte
	switch it.kind {
	case itemUID:
		b = strconv.AppendUint(append(b, "UID "...), uint64(f.info.UID), 10)
	case itemFlags:
		b = appendFlags(b, flags(f.info))
	case itemInternalDate:
		b = append(b, `INTERNALDATE "`...)
		b = f.info.Date.Local().AppendFormat(b, internalDateLayout)
		b = append(b, '"')
	case itemSize:
		b = strconv.AppendInt(append(b, "RFC822.SIZE "...), f.info.Size, 10)
	case itemEnvelope, itemBody, itemBodyStructure:
		s, err := f.summary()
		if err != nil {
			return err
		}
		switch it.kind {
		case itemEnvelope:
			b = appendEnvelope(append(b, "ENVELOPE "...), &s.Envelope)
		case itemBody:
			b = appendBody(append(b, "BODY "...), &s.Body, false)
		default:
			b = appendBody(append(b, "BODYSTRUCTURE "...), &s.Body, true)
		}
	case itemSection:
		o.writeString(it.name + " ")
		return f.writeBodySection(o, it.section)
	case itemBinary:
		o.writeString(it.name + " ")
		return f.writeBinarySection(o, it.binary, f.binPlans[i])
	case itemBinarySize:
		b = strconv.AppendInt(append(b, it.name+" "...), min(f.binPlans[i].Size, 1<<32-1), 10)
	}
	o.write(b)
	return nil
}

// fetcher answers the items of one message; it loads the summary once.
type fetcher struct {
	src      messageSource
	info     maildir.Message
	sum      *maildir.Summary
	binPlans map[int]binaryResult // by item index, made by check
}

func (f *fetcher) summary() (*maildir.Summary, error) {
	if f.sum == nil {
		s, err := f.src.Summary()
		if err != nil {
			return nil, fmt.Errorf("imap: summary of UID %d: %w", f.info.UID, err)
		}
		f.sum = s
	}
	return f.sum, nil
}

// errUnknownCTE answers BINARY for a part whose transfer encoding we
// cannot decode (RFC 3516 §4.3).
var errUnknownCTE = &goimap.Error{
	Type: goimap.StatusResponseTypeNo,
	Code: goimap.ResponseCodeUnknownCTE,
	Text: "Unknown Content-Transfer-Encoding",
}

// check finds, before anything is written, the first item that cannot
// be answered, and why. It plans the BINARY items (binaryconv.go).
func (f *fetcher) check(plan *fetchPlan) (int, error) {
	for i, it := range plan.items {
		switch it.kind {
		case itemSection:
			if it.section.Specifier == goimap.PartSpecifierMIME && len(it.section.Part) == 0 {
				return i, &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "MIME needs a part number"}
			}
		case itemBinary:
			res, err := f.planBinaryItem(it.binary.Part)
			if err != nil {
				return i, err
			}
			if f.binPlans == nil {
				f.binPlans = map[int]binaryResult{}
			}
			f.binPlans[i] = res
		case itemBinarySize:
			// Dovecot answers BINARY.SIZE of a part that exists from the
			// converted form of the whole message, and so refuses it when
			// any part is broken.
			if _, _, ok, err := f.binaryEntity(it.binSize.Part); err != nil {
				return i, err
			} else if ok {
				if _, err := f.planBinaryItem(nil); err != nil {
					return i, err
				}
			}
			res, err := f.planBinaryItem(it.binSize.Part)
			if err != nil {
				return i, err
			}
			if f.binPlans == nil {
				f.binPlans = map[int]binaryResult{}
			}
			f.binPlans[i] = res
		}
	}
	return 0, nil
}

// errShortMessage reports a message file that ended before the size its
// summary or name promised; the literal was padded with spaces.
var errShortMessage = errors.New("imap: message file shorter than announced")
