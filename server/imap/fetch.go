package imap

// FETCH data items (RFC 3501 §6.4.5 and §7.4.2, RFC 9051 §6.4.5 and
// §7.5.2, RFC 3516 for BINARY), answered from maildir's summary of a
// message and from the message file, streamed.
//
// The answers follow Dovecot 2.3 wherever go-imap v2.0.0-beta.8's
// FetchResponseWriter lets us choose the bytes. Where it does not, the
// closest correct answer is sent; the differences are these, each caused
// by the writer, not by the data we give it:
//
//   - Items come in a fixed order (UID, FLAGS, INTERNALDATE, RFC822.SIZE,
//     ENVELOPE, BODY, BODYSTRUCTURE, body sections, binary sections, binary
//     sizes), as FetchOptions does not keep the request's order; Dovecot
//     keeps it (UID first in UID FETCH, non-buffered items after the
//     others).
//   - Strings are quoted unless they hold CR, LF, NUL or 8-bit bytes (8-bit
//     is quoted too once IMAP4rev2 is enabled); Dovecot sends a literal
//     for a value that was folded in the message.
//   - INTERNALDATE pads the day with a space (" 5-Mar-2024"), Dovecot with
//     a zero.
//   - Addresses in a list are separated by a space; Dovecot (and RFC
//     3501's grammar) puts none.
//   - ENVELOPE's date is written from a parsed time ("Tue, 05 Mar 2024
//     10:00:00 +0100"; NIL when it does not parse), where Dovecot copies
//     the header; an 8-bit subject or display name is sent as an RFC 2047
//     encoded word; In-Reply-To and Message-ID are wrapped in "<>" when the
//     header lacks them.
//   - BODYSTRUCTURE's body-fld-md5 is always NIL and parameters are sorted
//     by name; Dovecot sends Content-MD5 and keeps the header's order.
//   - HEADER.FIELDS names are echoed as quoted strings; Dovecot echoes
//     them as atoms unless the client quoted them. (We uppercase them, as
//     Dovecot does.)
//   - A partial BINARY answer lacks its "<origin>".

import (
	"errors"
	"fmt"
	"io"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
)

// messageSource gives what FETCH and SEARCH need of one message of the
// selected mailbox.
type messageSource interface {
	Info() maildir.Message              // UID, Flags, Keywords, Size (CRLF), Date
	Summary() (*maildir.Summary, error) // parsed structure (cached by maildir)
	Open() (io.ReadCloser, error)       // the message with CRLF line ends, streamed
}

// writeFetchItems writes every item of options for one message, except
// the sequence number, which the caller has given to w already, and
// reports whether a body section without PEEK was fetched: the caller then
// sets \Seen (not in a read-only mailbox) before calling, so that FLAGS
// shows it. Dovecot also sends FLAGS, right after UID, when fetching a body
// set \Seen and the client did not ask for FLAGS; a caller gets the same
// by passing a copy of options with Flags set for such a message. Bodies
// are streamed from the message file; only short pieces (under
// shortSection bytes) that must be measured before they are sent are held
// in memory.
//
// An error is returned before anything is written for a request that
// cannot be answered (BINARY of an unknown Content-Transfer-Encoding,
// RFC 3516 §4.2: an *imap.Error with the UNKNOWN-CTE code). Any other
// error may leave w with a partial response, its literals padded to their
// announced sizes; the caller closes w and should end the connection.
func writeFetchItems(w *imapserver.FetchResponseWriter, src messageSource, options *goimap.FetchOptions,
	flags func(maildir.Message) []goimap.Flag) (setSeen bool, err error) {
	f := &fetcher{src: src, info: src.Info()}
	for _, bs := range options.BodySection {
		if !bs.Peek {
			setSeen = true
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			setSeen = true
		}
	}
	if err := f.check(options); err != nil {
		return false, err
	}

	if options.UID {
		w.WriteUID(goimap.UID(f.info.UID))
	}
	if options.Flags {
		w.WriteFlags(flags(f.info))
	}
	if options.InternalDate {
		w.WriteInternalDate(f.info.Date)
	}
	if options.RFC822Size {
		w.WriteRFC822Size(f.info.Size)
	}
	if options.Envelope {
		s, err := f.summary()
		if err != nil {
			return setSeen, err
		}
		w.WriteEnvelope(envelope(&s.Envelope))
	}
	if options.BodyStructure != nil {
		s, err := f.summary()
		if err != nil {
			return setSeen, err
		}
		// Always the extended form: the writer drops the extension data
		// for BODY, and panics without it for BODYSTRUCTURE.
		w.WriteBodyStructure(bodyStructure(&s.Body))
	}
	for _, bs := range options.BodySection {
		if err := f.writeBodySection(w, bs); err != nil {
			return setSeen, err
		}
	}
	for _, bs := range options.BinarySection {
		if err := f.writeBinarySection(w, bs); err != nil {
			return setSeen, err
		}
	}
	for _, bs := range options.BinarySectionSize {
		n, err := f.binarySize(bs.Part)
		if err != nil {
			return setSeen, err
		}
		w.WriteBinarySectionSize(bs, uint32(min(n, 1<<32-1)))
	}
	return setSeen, nil
}

// fetcher answers the items of one message; it loads the summary once.
type fetcher struct {
	src  messageSource
	info maildir.Message
	sum  *maildir.Summary
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

// check refuses, before anything is written, what cannot be answered.
func (f *fetcher) check(options *goimap.FetchOptions) error {
	var parts [][]int
	for _, bs := range options.BinarySection {
		parts = append(parts, bs.Part)
	}
	for _, bs := range options.BinarySectionSize {
		parts = append(parts, bs.Part)
	}
	for _, part := range parts {
		if len(part) == 0 {
			continue
		}
		s, err := f.summary()
		if err != nil {
			return err
		}
		p, ok := s.Part(part...)
		if ok && !knownEncoding(p) {
			return errUnknownCTE
		}
	}
	for _, bs := range options.BinarySectionSize {
		// Dovecot answers BINARY.SIZE of a part that exists from the
		// decoded form of the whole message, and so refuses it when any
		// part cannot be decoded.
		s, err := f.summary()
		if err != nil {
			return err
		}
		if _, ok := s.Part(bs.Part...); ok && !allDecodable(&s.Body) {
			return errUnknownCTE
		}
	}
	for _, bs := range options.BodySection {
		if bs.Specifier == goimap.PartSpecifierMIME && len(bs.Part) == 0 {
			return &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "MIME needs a part number"}
		}
	}
	return nil
}

// allDecodable reports whether BINARY can decode every leaf part of p.
func allDecodable(p *maildir.BodyPart) bool {
	switch {
	case p.IsMultipart():
		for i := range p.Parts {
			if !allDecodable(&p.Parts[i]) {
				return false
			}
		}
		return true
	case p.IsMessage():
		return allDecodable(p.Message)
	}
	return knownEncoding(p)
}

// errShortMessage reports a message file that ended before the size its
// summary or name promised; the literal was padded with spaces.
var errShortMessage = errors.New("imap: message file shorter than announced")
