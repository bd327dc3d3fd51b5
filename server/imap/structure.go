package imap

// ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2) from maildir's summary.
// The summary keeps header values raw (encoded words encoded, 8-bit bytes
// as they are), as IMAP sends them; go-imap's writer encodes the rest.

import (
	"net/mail"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// envelope converts a summary's envelope for go-imap's writer.
func envelope(e *maildir.Envelope) *goimap.Envelope {
	return &goimap.Envelope{
		Date:      envelopeDate(e.Date),
		Subject:   e.Subject,
		From:      addresses(e.From),
		Sender:    addresses(e.Sender),
		ReplyTo:   addresses(e.ReplyTo),
		To:        addresses(e.To),
		Cc:        addresses(e.Cc),
		Bcc:       addresses(e.Bcc),
		InReplyTo: msgIDs(e.InReplyTo),
		MessageID: msgID(e.MessageID),
	}
}

// envelopeDate parses a Date header value; the writer formats it again.
// A value that does not parse gives the zero time, written as NIL.
func envelopeDate(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// msgID strips the angle brackets the writer puts back, so a value that
// has them goes out exactly as the header has it.
func msgID(v string) string {
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		return v[1 : len(v)-1]
	}
	return v
}

// msgIDs is msgID for In-Reply-To: the writer joins the list with "> <"
// inside one pair of brackets, so one element rebuilds the raw value.
func msgIDs(v string) []string {
	if v == "" {
		return nil
	}
	return []string{msgID(v)}
}

// addresses converts an address list. Group markers keep their shape:
// (NIL NIL "name" NIL) starts a group, (NIL NIL NIL NIL) ends it.
func addresses(list []maildir.Address) []goimap.Address {
	if len(list) == 0 {
		return nil
	}
	out := make([]goimap.Address, len(list))
	for i, a := range list {
		out[i] = goimap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return out
}

// bodyStructure converts a summary's body part, with the extension data
// (the writer leaves it out for BODY).
func bodyStructure(p *maildir.BodyPart) goimap.BodyStructure {
	if p.IsMultipart() {
		mp := &goimap.BodyStructureMultiPart{
			Subtype: p.Subtype,
			Extended: &goimap.BodyStructureMultiPartExt{
				Params:      p.Params,
				Disposition: disposition(p),
				Language:    p.Language,
				Location:    p.Location,
			},
		}
		mp.Children = make([]goimap.BodyStructure, len(p.Parts))
		for i := range p.Parts {
			mp.Children[i] = bodyStructure(&p.Parts[i])
		}
		return mp
	}
	sp := &goimap.BodyStructureSinglePart{
		Type:        p.Type,
		Subtype:     p.Subtype,
		Params:      p.Params,
		ID:          p.ID,
		Description: p.Description,
		Encoding:    p.Encoding,
		Size:        uint32(min(max(p.Size, 0), 1<<32-1)),
		Extended: &goimap.BodyStructureSinglePartExt{
			Disposition: disposition(p),
			Language:    p.Language,
			Location:    p.Location,
		},
	}
	switch {
	case p.IsMessage():
		sp.MessageRFC822 = &goimap.BodyStructureMessageRFC822{
			Envelope:      envelope(p.Envelope),
			BodyStructure: bodyStructure(p.Message),
			NumLines:      p.Lines,
		}
	case strings.EqualFold(p.Type, "text"):
		sp.Text = &goimap.BodyStructureText{NumLines: p.Lines}
	}
	return sp
}

func disposition(p *maildir.BodyPart) *goimap.BodyStructureDisposition {
	if p.Disposition == "" {
		return nil
	}
	return &goimap.BodyStructureDisposition{Value: p.Disposition, Params: p.DispositionParams}
}
