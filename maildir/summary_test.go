package maildir

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

var updateSummaryGolden = flag.Bool("update-summary", false, "rewrite testdata/summary/*.json from the parser's output")

// toCRLF turns LF line ends into CRLF, as the mailbox serves messages.
func toCRLF(b []byte) []byte {
	var out bytes.Buffer
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out.WriteByte('\r')
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}

func mustParse(t testing.TB, msg []byte) *Summary {
	t.Helper()
	s, err := ParseSummary(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("ParseSummary: %v", err)
	}
	checkSummaryInvariants(t, s, msg)
	return s
}

func parseString(t testing.TB, msg string) *Summary {
	t.Helper()
	return mustParse(t, toCRLF([]byte(msg)))
}

// checkSummaryInvariants checks what must hold for any input: the whole
// message is covered, every part lies inside its parent's body, siblings
// are in order and do not overlap, and the structure IMAP needs is there.
func checkSummaryInvariants(t testing.TB, s *Summary, msg []byte) {
	t.Helper()
	if s.Body.Offset != 0 || s.HeaderSize != s.Body.HeaderSize || s.BodySize != s.Body.Size {
		t.Fatalf("top level: offset %d header %d/%d body %d/%d", s.Body.Offset, s.HeaderSize, s.Body.HeaderSize, s.BodySize, s.Body.Size)
	}
	if got := s.HeaderSize + s.BodySize; got != crlfLen(msg) {
		t.Fatalf("header+body = %d, CRLF length = %d", got, crlfLen(msg))
	}
	var check func(p *BodyPart, lo, hi int64, path string)
	check = func(p *BodyPart, lo, hi int64, path string) {
		if p.Offset < lo || p.HeaderSize < 0 || p.Size < 0 || p.BodyOffset()+p.Size > hi {
			t.Fatalf("part %s [%d+%d+%d] outside [%d,%d]", path, p.Offset, p.HeaderSize, p.Size, lo, hi)
		}
		if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
			t.Fatalf("part %s: empty type %q/%q or encoding %q", path, p.Type, p.Subtype, p.Encoding)
		}
		if p.Type == "multipart" && len(p.Parts) == 0 {
			t.Fatalf("part %s: multipart without children", path)
		}
		if (p.Type == "message" && p.Subtype == "rfc822") != (p.Message != nil) || (p.Message != nil) != (p.Envelope != nil) {
			t.Fatalf("part %s: message/rfc822 without encapsulated message or the reverse", path)
		}
		end := p.BodyOffset()
		for i := range p.Parts {
			c := &p.Parts[i]
			if c.Offset < end {
				t.Fatalf("part %s.%d starts at %d before %d", path, i+1, c.Offset, end)
			}
			check(c, p.BodyOffset(), p.BodyOffset()+p.Size, fmt.Sprintf("%s.%d", path, i+1))
			end = c.BodyOffset() + c.Size
		}
		if p.Message != nil {
			m := p.Message
			if m.Offset != p.BodyOffset() || m.HeaderSize+m.Size != p.Size {
				t.Fatalf("part %s: encapsulated message [%d+%d+%d] is not the body [%d+%d]", path, m.Offset, m.HeaderSize, m.Size, p.BodyOffset(), p.Size)
			}
			check(m, p.BodyOffset(), p.BodyOffset()+p.Size, path+".msg")
		}
	}
	check(&s.Body, 0, crlfLen(msg), "0")
}

// crlfLen is the length of msg once every bare LF is a CRLF.
func crlfLen(msg []byte) int64 {
	n := int64(len(msg))
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			n++
		}
	}
	return n
}

// section returns the bytes of [off, off+n) of a CRLF message.
func section(msg []byte, off, n int64) string { return string(msg[off : off+n]) }

func TestSummaryGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "summary", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test messages: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			msg := toCRLF(raw)
			s := mustParse(t, msg)
			got, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".eml") + ".json"
			if *updateSummaryGolden {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-summary to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("summary differs from %s:\n%s", golden, got)
			}
			// The LF form parses to the same summary.
			if lf := mustParse(t, raw); !reflect.DeepEqual(lf, s) {
				t.Errorf("LF and CRLF forms differ")
			}
		})
	}
}

func TestSummaryEnvelope(t *testing.T) {
	s := parseString(t, "Date: Tue, 5 Mar 2024 10:00:00 +0100\n"+
		"From: Alice Example <alice@example.org>\n"+
		"To: bob@example.org, \"Carol, C.\" <carol@example.net>\n"+
		"Subject: =?UTF-8?B?SGVsbG8=?=\n and more\n"+
		"Message-ID: <1@example.org>\nIn-Reply-To: <0@example.org>\n"+
		"Subject: the last one wins\n"+
		"\nbody\n")
	e := s.Envelope
	if e.Date != "Tue, 5 Mar 2024 10:00:00 +0100" || e.MessageID != "<1@example.org>" || e.InReplyTo != "<0@example.org>" {
		t.Errorf("date/ids: %+v", e)
	}
	if e.Subject != "the last one wins" {
		t.Errorf("subject %q", e.Subject)
	}
	from := []Address{{Name: "Alice Example", Mailbox: "alice", Host: "example.org"}}
	if !reflect.DeepEqual(e.From, from) || !reflect.DeepEqual(e.Sender, from) || !reflect.DeepEqual(e.ReplyTo, from) {
		t.Errorf("from/sender/reply-to: %+v %+v %+v", e.From, e.Sender, e.ReplyTo)
	}
	to := []Address{{Mailbox: "bob", Host: "example.org"}, {Name: "Carol, C.", Mailbox: "carol", Host: "example.net"}}
	if !reflect.DeepEqual(e.To, to) {
		t.Errorf("to: %+v", e.To)
	}
	if e.Cc != nil || e.Bcc != nil {
		t.Errorf("cc/bcc: %+v %+v", e.Cc, e.Bcc)
	}

	// Encoded words stay raw, and so do folds and trailing white space.
	s = parseString(t, "Subject: =?UTF-8?B?SGVsbG8=?=\n\tand more \n\n")
	if s.Envelope.Subject != "=?UTF-8?B?SGVsbG8=?=\r\n\tand more " {
		t.Errorf("folded subject %q", s.Envelope.Subject)
	}
}

func TestSummaryAddresses(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{"   ", nil},
		{"a@b.c", []Address{{Mailbox: "a", Host: "b.c"}}},
		{"A B <a@b.c>", []Address{{Name: "A B", Mailbox: "a", Host: "b.c"}}},
		{`"Doe, J." <j@x.y>, k@x.y`, []Address{{Name: "Doe, J.", Mailbox: "j", Host: "x.y"}, {Mailbox: "k", Host: "x.y"}}},
		{"a@b.c (Real Name)", []Address{{Name: "Real Name", Mailbox: "a", Host: "b.c"}}},
		{"=?utf-8?q?J=C3=BC?= <j@x.y>", []Address{{Name: "=?utf-8?q?J=C3=BC?=", Mailbox: "j", Host: "x.y"}}},
		{"undisclosed-recipients:;", []Address{{Mailbox: "undisclosed-recipients"}, {}}},
		{"Team: k@x.y, l@x.y;, m@x.y", []Address{{Mailbox: "Team"}, {Mailbox: "k", Host: "x.y"}, {Mailbox: "l", Host: "x.y"}, {}, {Mailbox: "m", Host: "x.y"}}},
		{"Open: k@x.y", []Address{{Mailbox: "Open"}, {Mailbox: "k", Host: "x.y"}, {}}},
		{"localonly", []Address{{Mailbox: "localonly", Host: missingDomain}}},
		{"<>", []Address{{Mailbox: missingMailbox, Host: missingDomain}}},
		{"<@r1.example,@r2.example:mo@x.y>", []Address{{Route: "@r1.example,@r2.example", Mailbox: "mo", Host: "x.y"}}},
		{"<@>", []Address{{Route: "INVALID_ROUTE", Mailbox: "MISSING_MAILBOX", Host: "MISSING_DOMAIN"}}},
		{`"quoted local"@x.y`, []Address{{Mailbox: "quoted local", Host: "x.y"}}},
		{"a@[192.0.2.1]", []Address{{Mailbox: "a", Host: "[192.0.2.1]"}}},
		{"Broken <a@b.c", []Address{{Name: "Broken", Mailbox: "a", Host: "b.c"}}},
		{"x <y>, z@w.v", []Address{{Name: "x", Mailbox: "y", Host: missingDomain}, {Mailbox: "z", Host: "w.v"}}},
		{": ;", []Address{{Mailbox: missingMailbox}, {}}},
		{",,,a@b.c,,", []Address{{Mailbox: "a", Host: "b.c"}}},
	}
	for _, tt := range tests {
		got := parseAddressList([]byte(tt.in))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseAddressList(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		for _, a := range got {
			if a.Host == "" && !a.IsGroupStart() && !a.IsGroupEnd() {
				t.Errorf("%q: address %+v is neither real nor a group marker", tt.in, a)
			}
		}
	}
	// A huge list is capped.
	many := strings.Repeat("a@b,", 3*maxAddresses)
	if n := len(parseAddressList([]byte(many))); n != maxAddresses {
		t.Errorf("kept %d addresses, want %d", n, maxAddresses)
	}
}

func TestSummaryDefaults(t *testing.T) {
	// No MIME at all: text/plain; charset=us-ascii, 7bit, and Content-*
	// headers of a non-MIME message are ignored.
	msg := toCRLF([]byte("Subject: x\nContent-Transfer-Encoding: base64\n\nline 1\nline 2\n"))
	s := mustParse(t, msg)
	b := s.Body
	if b.Type != "text" || b.Subtype != "plain" || b.Encoding != "7bit" {
		t.Errorf("defaults: %s/%s %v %s", b.Type, b.Subtype, b.Params, b.Encoding)
	}
	if b.Lines != 2 || b.Size != 16 || s.HeaderSize != int64(len("Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n")) {
		t.Errorf("lines %d size %d header %d", b.Lines, b.Size, s.HeaderSize)
	}

	// Content-Type makes it MIME; text without charset gets us-ascii; a
	// type without subtype gets plain (text) or unknown.
	s = parseString(t, "Content-Type: TEXT/HTML\nContent-Transfer-Encoding: Base64\n\nx\n")
	if b := s.Body; b.Type != "text" || b.Subtype != "html" || b.Encoding != "base64" {
		t.Errorf("text/html: %+v", b)
	}
	s = parseString(t, "MIME-Version: 1.0\nContent-Type: text\n\nx\n")
	if b := s.Body; b.Type != "text" || b.Subtype != "plain" {
		t.Errorf("text alone: %s/%s", b.Type, b.Subtype)
	}
	s = parseString(t, "MIME-Version: 1.0\nContent-Type: image\n\nx\n")
	if b := s.Body; b.Type != "image" || b.Subtype != "unknown" || b.Params != nil || b.Lines != 0 {
		t.Errorf("image alone: %+v", b)
	}
	s = parseString(t, "MIME-Version: 1.0\nContent-Type: ;;;\n\nx\n")
	if b := s.Body; b.Type != "text" || b.Subtype != "plain" {
		t.Errorf("broken type: %s/%s", b.Type, b.Subtype)
	}
	// The first Content-Type wins.
	s = parseString(t, "Content-Type: text/html\nContent-Type: image/png\n\nx\n")
	if s.Body.Subtype != "html" {
		t.Errorf("second Content-Type won: %s", s.Body.Subtype)
	}
}

func TestSummaryMultipartOffsets(t *testing.T) {
	msg := toCRLF([]byte("Content-Type: multipart/mixed; boundary=b\n" +
		"\n" +
		"preamble\n" +
		"--b\n" +
		"Content-Type: text/plain\n" +
		"\n" +
		"one\n" +
		"two\n" +
		"--b \t\n" + // trailing white space is allowed
		"\n" +
		"no header\n" +
		"--b--\n" +
		"epilogue\n"))
	s := mustParse(t, msg)
	if len(s.Body.Parts) != 2 {
		t.Fatalf("%d parts", len(s.Body.Parts))
	}
	p1, p2 := &s.Body.Parts[0], &s.Body.Parts[1]
	if got := section(msg, p1.Offset, p1.HeaderSize); got != "Content-Type: text/plain\r\n\r\n" {
		t.Errorf("part 1 header %q", got)
	}
	if got := section(msg, p1.BodyOffset(), p1.Size); got != "one\r\ntwo" {
		t.Errorf("part 1 body %q (the CRLF before the boundary belongs to it)", got)
	}
	if p1.Lines != 1 {
		t.Errorf("part 1 lines %d, want 1", p1.Lines)
	}
	if got := section(msg, p2.Offset, p2.HeaderSize); got != "\r\n" {
		t.Errorf("part 2 header %q", got)
	}
	if got := section(msg, p2.BodyOffset(), p2.Size); got != "no header" {
		t.Errorf("part 2 body %q", got)
	}
	if got := section(msg, s.Body.BodyOffset(), s.BodySize); !strings.HasPrefix(got, "preamble\r\n--b\r\n") || !strings.HasSuffix(got, "--b--\r\nepilogue\r\n") {
		t.Errorf("multipart body %q", got)
	}
	if sp, ok := s.Part(2); !ok || sp != p2 {
		t.Errorf("Part(2) = %v, %v", sp, ok)
	}
	if _, ok := s.Part(3); ok {
		t.Errorf("Part(3) exists")
	}
}

func TestSummaryBrokenMIME(t *testing.T) {
	t.Run("missing final boundary", func(t *testing.T) {
		msg := toCRLF([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\n\nsecond\nlast line\n"))
		s := mustParse(t, msg)
		if len(s.Body.Parts) != 2 {
			t.Fatalf("%d parts", len(s.Body.Parts))
		}
		p := &s.Body.Parts[1]
		if got := section(msg, p.BodyOffset(), p.Size); got != "second\r\nlast line\r\n" {
			t.Errorf("last part runs to the end: %q", got)
		}
	})
	t.Run("outer boundary closes inner parts", func(t *testing.T) {
		msg := toCRLF([]byte("Content-Type: multipart/mixed; boundary=out\n\n" +
			"--out\nContent-Type: multipart/alternative; boundary=in\n\n--in\n\ninner\n" +
			"--out\n\nsecond\n--out--\n"))
		s := mustParse(t, msg)
		if len(s.Body.Parts) != 2 || len(s.Body.Parts[0].Parts) != 1 {
			t.Fatalf("structure: %d parts", len(s.Body.Parts))
		}
		inner := &s.Body.Parts[0].Parts[0]
		if got := section(msg, inner.BodyOffset(), inner.Size); got != "inner" {
			t.Errorf("inner part %q", got)
		}
		if got := section(msg, s.Body.Parts[1].BodyOffset(), s.Body.Parts[1].Size); got != "second" {
			t.Errorf("second part %q", got)
		}
	})
	t.Run("boundary is a prefix, longest wins", func(t *testing.T) {
		msg := toCRLF([]byte("Content-Type: multipart/mixed; boundary=ab\n\n" +
			"--ab\nContent-Type: multipart/mixed; boundary=abc\n\n--abc\n\nx\n--abcgarbage\n\ny\n--abc--\n--ab--\n"))
		s := mustParse(t, msg)
		if n := len(s.Body.Parts[0].Parts); n != 2 {
			t.Fatalf("inner multipart has %d parts, want 2", n)
		}
	})
	t.Run("multipart without boundary", func(t *testing.T) {
		msg := toCRLF([]byte("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\ntext\n"))
		s := mustParse(t, msg)
		if len(s.Body.Parts) != 1 || s.Body.Parts[0].Type != "text" || s.Body.Parts[0].Size != 0 {
			t.Errorf("want one empty text/plain child, got %+v", s.Body.Parts)
		}
		if s.Body.Size != 6 {
			t.Errorf("body size %d", s.Body.Size)
		}
	})
	t.Run("boundary never seen", func(t *testing.T) {
		s := parseString(t, "Content-Type: multipart/mixed; boundary=zz\n\n--z\ntext\n")
		if len(s.Body.Parts) != 1 || s.Body.Parts[0].Size != 0 {
			t.Errorf("want one empty child, got %+v", s.Body.Parts)
		}
	})
	t.Run("boundary inside a part header", func(t *testing.T) {
		msg := toCRLF([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n--x\n\nok\n--x--\n"))
		s := mustParse(t, msg)
		if len(s.Body.Parts) != 2 {
			t.Fatalf("%d parts", len(s.Body.Parts))
		}
		p := &s.Body.Parts[0]
		if p.Subtype != "html" || p.Size != 0 || section(msg, p.Offset, p.HeaderSize) != "Content-Type: text/html" {
			t.Errorf("cut part: %+v header %q", p, section(msg, p.Offset, p.HeaderSize))
		}
	})
	t.Run("no header end", func(t *testing.T) {
		s := parseString(t, "Subject: only a header\nFrom: a@b.c")
		if s.BodySize != 0 || s.Envelope.Subject != "only a header" || len(s.Envelope.From) != 1 {
			t.Errorf("%+v", s)
		}
	})
	t.Run("empty message", func(t *testing.T) {
		s := parseString(t, "")
		if s.HeaderSize != 0 || s.BodySize != 0 || s.Body.Type != "text" {
			t.Errorf("%+v", s)
		}
	})
	t.Run("message/rfc822 cut short", func(t *testing.T) {
		s := parseString(t, "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: message/rfc822\n--x--\n")
		p := &s.Body.Parts[0]
		if p.Message == nil || p.Envelope == nil || p.Size != 0 {
			t.Errorf("%+v", p)
		}
	})
	t.Run("digest default", func(t *testing.T) {
		s := parseString(t, "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: inner\n\nbody\n--d--\n")
		p := &s.Body.Parts[0]
		if p.Type != "message" || p.Subtype != "rfc822" || p.Envelope == nil || p.Envelope.Subject != "inner" {
			t.Errorf("digest part: %+v", p)
		}
	})
}

func TestSummaryMessageRFC822(t *testing.T) {
	msg := toCRLF([]byte("Content-Type: multipart/mixed; boundary=o\n\n" +
		"--o\nContent-Type: message/rfc822\n\n" +
		"Subject: inner\nFrom: x@y.z\nContent-Type: multipart/alternative; boundary=i\n\n" +
		"--i\n\nplain\n--i\nContent-Type: text/html\n\n<p>\n--i--\n" +
		"--o--\n"))
	s := mustParse(t, msg)
	p := &s.Body.Parts[0]
	if p.Envelope.Subject != "inner" || !reflect.DeepEqual(p.Envelope.Sender, p.Envelope.From) {
		t.Errorf("inner envelope %+v", p.Envelope)
	}
	// 12 lines: the line end after "--i--" is the end of the closing
	// boundary line, part of the inner multipart, as Dovecot counts it.
	if p.Lines != 12 {
		t.Errorf("message/rfc822 lines %d, want 12", p.Lines)
	}
	m := p.Message
	if got := section(msg, m.Offset, m.HeaderSize); !strings.HasPrefix(got, "Subject: inner\r\n") || !strings.HasSuffix(got, "\r\n\r\n") {
		t.Errorf("inner header %q", got)
	}
	if len(m.Parts) != 2 {
		t.Fatalf("inner parts %d", len(m.Parts))
	}
	// IMAP section numbers go through the encapsulated message.
	if sp, ok := s.Part(1, 2); !ok || sp != &m.Parts[1] || section(msg, sp.BodyOffset(), sp.Size) != "<p>" {
		t.Errorf("Part(1,2) = %+v %v", sp, ok)
	}
	if sp, ok := s.Part(1); !ok || sp != p {
		t.Errorf("Part(1) = %+v", sp)
	}
	if _, ok := s.Part(1, 3); ok {
		t.Error("Part(1,3) exists")
	}
	// A non-multipart message: part 1 is its body, and nothing below.
	s2 := parseString(t, "Subject: x\n\nbody\n")
	if sp, ok := s2.Part(1); !ok || sp != &s2.Body {
		t.Errorf("Part(1) of a plain message: %v", ok)
	}
	if _, ok := s2.Part(1, 1); ok {
		t.Error("Part(1,1) of a plain message exists")
	}
	if _, ok := s2.Part(2); ok {
		t.Error("Part(2) of a plain message exists")
	}
	if sp, ok := s2.Part(); !ok || sp != &s2.Body {
		t.Error("Part() is not the message")
	}
}

func TestSummaryParams(t *testing.T) {
	s := parseString(t, "Content-Type: application/octet-stream;\n"+
		" name*0*=UTF-8''%E2%82%AC%20rates;\n name*1*=%20list.txt; Name=dup;\n"+
		" title*1=\" world\"; title*0=hello; junk; x=\"a\\\"b\" (comment)\n"+
		"Content-Disposition: ATTACHMENT; filename=\"a b.txt\"; size=3\n"+
		"Content-Language: de, en-GB (English)\n"+
		"Content-ID: <id@x>\nContent-Description: desc\nContent-MD5: abc=\nContent-Location: loc\n\nbody")
	b := s.Body
	// Plain parameters first, in order; continuations joined, sorted by name.
	want := []Param{{"Name", "dup"}, {"x", `a"b`}, {"name*", "UTF-8''%E2%82%AC%20rates%20list.txt"}, {"title", "hello world"}}
	if !reflect.DeepEqual(b.Params, want) {
		t.Errorf("params %v, want %v", b.Params, want)
	}
	if b.Disposition != "attachment" || !reflect.DeepEqual(b.DispositionParams, []Param{{"filename", "a b.txt"}, {"size", "3"}}) || b.RawDisposition != "ATTACHMENT" {
		t.Errorf("disposition %q %v", b.Disposition, b.DispositionParams)
	}
	if !reflect.DeepEqual(b.Language, []string{"de", "en-GB"}) {
		t.Errorf("language %q", b.Language)
	}
	if b.ID != "<id@x>" || b.Description != "desc" || b.MD5 != "abc=" || b.Location != "loc" {
		t.Errorf("fields %+v", b)
	}
}

func TestSummaryLimits(t *testing.T) {
	t.Run("deep nesting", func(t *testing.T) {
		var msg strings.Builder
		for i := 0; i < maxMIMEDepth+20; i++ {
			fmt.Fprintf(&msg, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
		}
		msg.WriteString("\nleaf\n")
		s := parseString(t, msg.String())
		depth := 0
		for p := &s.Body; p.IsMultipart(); p = &p.Parts[0] {
			depth++
		}
		if depth != maxMIMEDepth {
			t.Errorf("depth %d, want %d", depth, maxMIMEDepth)
		}
	})
	t.Run("too many parts", func(t *testing.T) {
		msg := "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\nx\n", maxMIMEParts+50) + "--b--\n"
		s := parseString(t, msg)
		if n := len(s.Body.Parts); n != maxMIMEParts {
			t.Errorf("%d parts, want %d", n, maxMIMEParts)
		}
	})
	t.Run("huge header field", func(t *testing.T) {
		msg := "Subject: " + strings.Repeat("x", 3*maxFieldLen) + "\n" +
			"Content-Type: text/html\n" + "X-Other: " + strings.Repeat("y", maxHeaderBlock) + "\n\nbody\n"
		s := parseString(t, msg)
		if len(s.Envelope.Subject) != maxFieldLen {
			t.Errorf("subject kept %d bytes, want %d", len(s.Envelope.Subject), maxFieldLen)
		}
		if s.Body.Subtype != "html" {
			t.Errorf("subtype %q", s.Body.Subtype)
		}
	})
	t.Run("header block budget", func(t *testing.T) {
		big := strings.Repeat("v", maxFieldLen)
		msg := "Subject: " + big + "\nDate: " + big + "\nMessage-ID: " + big + "\nIn-Reply-To: " + big +
			"\nContent-Type: text/html\n\nbody\n"
		s := parseString(t, msg)
		if len(s.Envelope.InReplyTo) != maxFieldLen {
			t.Errorf("in-reply-to kept %d bytes", len(s.Envelope.InReplyTo))
		}
		// No room left: the field is dropped whole, not cut to "te".
		if s.Body.Type != "text" || s.Body.Subtype != "plain" {
			t.Errorf("type %s/%s", s.Body.Type, s.Body.Subtype)
		}
	})
	t.Run("message budget", func(t *testing.T) {
		desc := strings.Repeat("d", maxFieldLen-100)
		n := 2 * maxHeaderTotal / len(desc)
		var msg strings.Builder
		msg.WriteString("Content-Type: multipart/mixed; boundary=b\n\n")
		for i := 0; i < n; i++ {
			msg.WriteString("--b\nContent-Description: " + desc + "\n\nx\n")
		}
		s := parseString(t, msg.String())
		kept := 0
		for _, p := range s.Body.Parts {
			kept += len(p.Description)
		}
		if s.Body.Parts[0].Description != desc || s.Body.Parts[n-1].Description != "" || kept > maxHeaderTotal {
			t.Errorf("kept %d description bytes of %d", kept, n*len(desc))
		}
	})
	t.Run("long lines", func(t *testing.T) {
		long := strings.Repeat("z", 3*summaryReadSize+7)
		msg := "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" + long + "\n--b" + long + "\n\nsecond\n--b--\n"
		s := parseString(t, msg)
		if len(s.Body.Parts) != 2 || s.Body.Parts[0].Size != int64(len(long)) {
			t.Errorf("parts %d, first size %d", len(s.Body.Parts), s.Body.Parts[0].Size)
		}
	})
}

// genReader yields a large message without holding it in memory.
type genReader struct {
	head, line []byte
	left       int64 // body bytes left
	pos        int
	inHead     bool
}

func newGenMessage(bodySize int64) *genReader {
	return &genReader{
		head: []byte("From: a@b.c\r\nSubject: big\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n"),
		line:   []byte(strings.Repeat("0123456789", 7) + "abcdefgh\r\n"),
		left:   bodySize,
		inHead: true,
	}
}

func (g *genReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if g.inHead {
			c := copy(p[n:], g.head[g.pos:])
			n += c
			g.pos += c
			if g.pos == len(g.head) {
				g.inHead, g.pos = false, 0
			}
			continue
		}
		if g.left <= 0 {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		c := copy(p[n:], g.line[g.pos:])
		if int64(c) > g.left {
			c = int(g.left)
		}
		n += c
		g.pos = (g.pos + c) % len(g.line)
		g.left -= int64(c)
	}
	return n, nil
}

func TestSummaryMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("parses 100 MB")
	}
	const size = 100 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := ParseSummary(newGenMessage(size))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if s.Body.Parts[0].Size != size {
		t.Errorf("part size %d", s.Body.Parts[0].Size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("parsing 100 MB allocated %d bytes", alloc)
	}
}

type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = 'a'
	}
	r.n -= n
	return n, nil
}

func TestSummaryReadError(t *testing.T) {
	if _, err := ParseSummary(&errReader{n: 10}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v", err)
	}
	if _, err := ParseSummary(&errReader{n: 3 * summaryReadSize}); err == nil {
		t.Errorf("error in a long line was lost")
	}
}

func BenchmarkParseSummary(b *testing.B) {
	const size = 10 << 20
	msg, err := io.ReadAll(newGenMessage(size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ParseSummary(bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}
