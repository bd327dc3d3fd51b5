package imap

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

func lit(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }

// TestFetchBodySections checks sections against what Dovecot 2.3.19
// answered for the same messages (recorded over IMAP).
func TestFetchBodySections(t *testing.T) {
	simple := ctTestdata(t, "simple.eml")
	c := startContentServer(t, ctMsg{body: simple}, ctMsg{body: ctTestdata(t, "nested.eml")})
	crlf := strings.ReplaceAll(simple, "\n", "\r\n")
	hdr, text, _ := strings.Cut(crlf, "\r\n\r\n")
	hdr += "\r\n\r\n"
	for _, tc := range []struct{ args, want string }{
		{"1 (BODY[])", "BODY[] " + lit(crlf)},
		{"1 (RFC822)", "RFC822 " + lit(crlf)},
		{"1 (BODY.PEEK[HEADER])", "BODY[HEADER] " + lit(hdr)},
		{"1 (RFC822.HEADER)", "RFC822.HEADER " + lit(hdr)},
		{"1 (BODY[TEXT])", "BODY[TEXT] " + lit(text)},
		{"1 (RFC822.TEXT)", "RFC822.TEXT " + lit(text)},
		{"1 (BODY[1])", "BODY[1] " + lit(text)},
		// Part 1 of a single-part message is the message: its MIME header
		// is the message's header; HEADER and TEXT need message/rfc822.
		{"1 (BODY[1.MIME] BODY[1.HEADER] BODY[1.TEXT])", "BODY[1.MIME] " + lit(hdr) + " BODY[1.HEADER] {0}\r\n BODY[1.TEXT] {0}\r\n"},
		{"1 (BODY[2] BODY[1.1] BODY[0])", "BODY[2] {0}\r\n BODY[1.1] {0}\r\n BODY[0] {0}\r\n"},
		{"1 (BODY[]<0.10> BODY[]<400.10> BODY[]<1000.10> BODY[TEXT]<5.0>)",
			"BODY[]<0> " + lit(crlf[:10]) + " BODY[]<400> " + lit(crlf[400:402]) + " BODY[]<1000> {0}\r\n BODY[TEXT]<5> {0}\r\n"},
		// Recorded from Dovecot.
		{"2 (BODY[1.2.MIME] BODY[3.HEADER] BODY[1.MIME] BODY[5] BODY[3.1] BODY[3.TEXT] BODY.PEEK[2]<3.5> BODY[2]<100.5>)",
			"BODY[1.2.MIME] {42}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n BODY[3.HEADER] {187}\r\nFrom: Frank <frank@example.com>\r\nTo: Dan <dan@example.com>\r\nSubject: the original\r\nDate: Mon, 4 Mar 2024 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=fwd\r\n\r\n BODY[1.MIME] {55}\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n BODY[5] {0}\r\n BODY[3.1] {13}\r\noriginal text BODY[3.TEXT] {142}\r\n--fwd\r\nContent-Type: text/plain\r\n\r\noriginal text\r\n--fwd\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--fwd--\r\n BODY[2]<3> {5}\r\nERi0x BODY[2]<100> {0}\r\n"},
		{"2 (BODY[3] BODY[3.2.MIME] BODY[1.1])", "BODY[3] {329}\r\nFrom: Frank <frank@example.com>\r\nTo: Dan <dan@example.com>\r\nSubject: the original\r\nDate: Mon, 4 Mar 2024 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=fwd\r\n\r\n--fwd\r\nContent-Type: text/plain\r\n\r\noriginal text\r\n--fwd\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--fwd--\r\n BODY[3.2.MIME] {62}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n BODY[1.1] {29}\r\nHi Erin,\r\nsee the attachment."},
		// Dovecot echoes HEADER.FIELDS (FROM SUBJECT TO): the writer
		// quotes every name.
		{`1 (BODY.PEEK[HEADER.FIELDS (from Subject to)] BODY.PEEK[HEADER.FIELDS.NOT (from Subject to)])`,
			"BODY[HEADER.FIELDS (FROM SUBJECT TO)] {147}\r\nFrom: Alice Example <alice@example.org>\r\nTo: bob@example.org, \"Carol, C.\" <carol@example.net>\r\nSubject: =?UTF-8?B?SGVsbG8gd29ybGQ=?=\r\n and more\r\n\r\n BODY[HEADER.FIELDS.NOT (FROM SUBJECT TO)] {196}\r\nReturn-Path: <alice@example.org>\r\nDate: Tue, 5 Mar 2024 10:00:00 +0100\r\nCc: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de> (work)\r\nMessage-ID: <1234@example.org>\r\nIn-Reply-To: <1000@example.org>\r\n\r\n"},
		{"2 (BODY[3.HEADER.FIELDS (Subject)] BODY[1.HEADER.FIELDS (Subject)])",
			"BODY[3.HEADER.FIELDS (SUBJECT)] {25}\r\nSubject: the original\r\n\r\n BODY[1.HEADER.FIELDS (SUBJECT)] {0}\r\n"},
		{"1 (BODY[HEADER.FIELDS (X-None)] BODY[HEADER.FIELDS (Subject)]<9.30>)",
			"BODY[HEADER.FIELDS (X-NONE)] {2}\r\n\r\n BODY[HEADER.FIELDS (SUBJECT)]<9> " + lit("=?UTF-8?B?SGVsbG8gd29ybGQ=?=\r\n")},
	} {
		if got := c.fetch(tc.args); got != tc.want {
			t.Errorf("FETCH %s:\n got %q\nwant %q", tc.args, got, tc.want)
		}
	}
	// MIME needs a part (RFC 3501's grammar; go-imap parses it anyway).
	lines := c.do("FETCH 1 (BODY[MIME])")
	if last := lines[len(lines)-1]; !strings.Contains(last, " BAD ") {
		t.Errorf("BODY[MIME]: %q", lines)
	}
}

func TestFilterHeader(t *testing.T) {
	header := "Received: a\r\n\tb\r\nsubject : one\r\nX-Long: " + strings.Repeat("x", 5000) + "\r\n continued\r\nno colon line\r\nSUBJECT: two\r\n\r\nbody: not header\r\n"
	for _, tc := range []struct {
		names []string
		not   bool
		want  string
	}{
		{[]string{"SUBJECT"}, false, "subject : one\r\nSUBJECT: two\r\n\r\n"},
		{[]string{"RECEIVED", "X-LONG"}, false, "Received: a\r\n\tb\r\nX-Long: " + strings.Repeat("x", 5000) + "\r\n continued\r\n\r\n"},
		{[]string{"NO COLON LINE"}, false, "no colon line\r\n\r\n"},
		{[]string{"BODY"}, false, "\r\n"},
		{[]string{"SUBJECT", "X-LONG", "RECEIVED"}, true, "no colon line\r\n\r\n"},
	} {
		want := map[string]bool{}
		for _, n := range tc.names {
			want[n] = true
		}
		var b strings.Builder
		if err := filterHeader(&b, strings.NewReader(header), want, tc.not); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%v not=%v:\n got %q\nwant %q", tc.names, tc.not, b.String(), tc.want)
		}
	}
	// A header that ends without a blank line gets one, unless it ends
	// without a line end (Dovecot does so).
	for in, want := range map[string]string{
		"A: 1\r\nB: 2\r\n": "B: 2\r\n\r\n",
		"A: 1\r\nB: 2":     "B: 2",
		"B: 2\r\nA: 1":     "B: 2\r\n\r\n",
		"A: 1":             "\r\n",
	} {
		var b strings.Builder
		filterHeader(&b, strings.NewReader(in), map[string]bool{"B": true}, false)
		if b.String() != want {
			t.Errorf("unterminated header %q: %q, want %q", in, b.String(), want)
		}
	}
}

// bigMessage has a header and a base64 part larger than shortSection,
// so that those sections are produced twice instead of held in memory.
func bigMessage() (msg string, payload []byte) {
	payload = make([]byte, 3*shortSection)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(payload)
	var b strings.Builder
	b.WriteString("From: a@b.c\r\n")
	for i := 0; b.Len() < 2*shortSection; i++ {
		fmt.Fprintf(&b, "X-Filler-%d: %s\r\n", i, strings.Repeat("f", 100))
	}
	b.WriteString("Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nsoft\r\n--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--zz--\r\n")
	return b.String(), payload
}

func TestFetchBinary(t *testing.T) {
	big, payload := bigMessage()
	uu := "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\ntext\r\n--zz\r\nContent-Type: application/x-uu\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n--zz--\r\n"
	c := startContentServer(t, ctMsg{body: ctTestdata(t, "nested.eml")}, ctMsg{body: big}, ctMsg{body: uu})
	pdf := "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
	for _, tc := range []struct{ args, want string }{
		// Recorded from Dovecot.
		{"1 (BINARY[1.1] BINARY.SIZE[2] BINARY[2] BINARY.PEEK[2]<2.3>)",
			"BINARY[1.1] ~{29}\r\nHi Erin,\r\nsee the attachment. BINARY.SIZE[2] 15 BINARY[2] ~" + lit(pdf) + " BINARY[2]<2> ~{3}\r\nDF-"},
		{"1 (BINARY[3.2] BINARY.SIZE[3.2])", "BINARY[3.2] ~{8}\r\n\x89PNG\r\n\x1a\n BINARY.SIZE[3.2] 8"},
		{"1 (BINARY[9] BINARY.SIZE[9])", "BINARY[9] {0}\r\n BINARY.SIZE[9] 0"},
		{"2 (BINARY.PEEK[1] BINARY.SIZE[1])", "BINARY[1] ~{10}\r\ncafé soft BINARY.SIZE[1] 10"},
		{"2 (BINARY.SIZE[2])", "BINARY.SIZE[2] " + strconv.Itoa(len(payload))},
		{"2 (BINARY.PEEK[2]<1000.20>)", "BINARY[2]<1000> ~" + lit(string(payload[1000:1020]))},
	} {
		if got := c.fetch(tc.args); got != tc.want {
			t.Errorf("FETCH %s:\n got %q\nwant %q", tc.args, got, tc.want)
		}
	}
	if got := c.fetch("2 (BINARY.PEEK[2])"); got != "BINARY[2] ~"+lit(string(payload)) {
		t.Errorf("big BINARY[2]: %d bytes, want %d", len(got), len(payload))
	}
	// An encoding we cannot undo: NO [UNKNOWN-CTE], after the items
	// before the failing one (the UID when there are none), as Dovecot
	// answers.
	for _, tc := range []struct{ cmd, want string }{
		{"FETCH 3 (UID BINARY.PEEK[2])", "* 3 FETCH (UID 3)\r\n"},
		{"FETCH 3 (BINARY.PEEK[2])", "* 3 FETCH (UID 3)\r\n"},
		{"FETCH 3 (RFC822.SIZE BINARY.PEEK[1] BINARY.PEEK[2] BODY.PEEK[1])", "* 3 FETCH (RFC822.SIZE 179 BINARY[1] {4}\r\ntext)\r\n"},
	} {
		lines := c.do(tc.cmd)
		if len(lines) != 2 || lines[0] != tc.want || !strings.Contains(lines[1], "NO [UNKNOWN-CTE]") {
			t.Errorf("%s: %q, want %q and NO [UNKNOWN-CTE]", tc.cmd, lines, tc.want)
		}
	}
	// BINARY.SIZE of any part of such a message fails, as with Dovecot.
	if got := c.fetch("3 (BINARY[1])"); got != "BINARY[1] {4}\r\ntext" {
		t.Errorf("BINARY[1] next to x-uuencode: %q", got)
	}
	if got := c.fetch("3 (BINARY.SIZE[4])"); got != "BINARY.SIZE[4] 0" {
		t.Errorf("BINARY.SIZE of no part: %q", got)
	}
	for _, part := range []string{"2", "1"} {
		lines := c.do("FETCH 3 (BINARY.SIZE[" + part + "])")
		if last := lines[len(lines)-1]; !strings.Contains(last, "NO [UNKNOWN-CTE]") {
			t.Errorf("BINARY.SIZE[%s] of a message with x-uuencode: %q", part, lines)
		}
	}
}

func TestFetchLongSections(t *testing.T) {
	big, _ := bigMessage()
	c := startContentServer(t, ctMsg{body: big})
	hdr, _, _ := strings.Cut(big, "\r\n\r\n")
	var fillers []string
	for _, l := range strings.Split(hdr, "\r\n") {
		if strings.HasPrefix(l, "X-Filler-") {
			fillers = append(fillers, l+"\r\n")
		}
	}
	for _, tc := range []struct{ args, want string }{
		{"1 (BODY[HEADER.FIELDS (subject from)])", `BODY[HEADER.FIELDS (SUBJECT FROM)] ` + lit("From: a@b.c\r\nSubject: big\r\n\r\n")},
		{"1 (BODY[HEADER.FIELDS (X-Filler-3 X-Filler-1)]<10.100>)", `BODY[HEADER.FIELDS (X-FILLER-3 X-FILLER-1)]<10> ` + lit((fillers[1] + fillers[3])[10:110])},
		{"1 (BODY[HEADER.FIELDS.NOT (X-Filler-0)]<0.5>)", `BODY[HEADER.FIELDS.NOT (X-FILLER-0)]<0> ` + lit("From:")},
	} {
		if got := c.fetch(tc.args); got != tc.want {
			t.Errorf("FETCH %s:\n got %q\nwant %q", tc.args, got, tc.want)
		}
	}
	got := c.fetch("1 (BODY[HEADER.FIELDS.NOT (Subject MIME-Version Content-Type)])")
	want := `BODY[HEADER.FIELDS.NOT (SUBJECT MIME-VERSION CONTENT-TYPE)] ` + lit("From: a@b.c\r\n"+strings.Join(fillers, "")+"\r\n")
	if got != want {
		t.Errorf("long HEADER.FIELDS.NOT: %d bytes, want %d", len(got), len(want))
	}
}

// TestFetchShortFile: a message file shorter than its summary promised
// still gives literals of the announced size (padded), and an error.
func TestFetchShortFile(t *testing.T) {
	full := "Subject: x\r\n\r\n" + strings.Repeat("line\r\n", 10)
	src := &ctFake{msg: maildir.Message{UID: 1, Size: int64(len(full))}, data: full[:20], summary: full}
	for _, options := range []*goimap.FetchOptions{
		{BodySection: []*goimap.FetchItemBodySection{{}}},
		{BodySection: []*goimap.FetchItemBodySection{{Specifier: goimap.PartSpecifierText}}},
	} {
		res, err := fetchOffline(t, src, options)
		if !errors.Is(err, errShortMessage) {
			t.Errorf("error %v, want errShortMessage", err)
		}
		if !strings.Contains(res.wire, "{") || !strings.HasSuffix(res.wire, "      ") {
			t.Errorf("wire %q: want a padded literal", res.wire)
		}
	}
	src.failSum = errors.New("broken")
	if _, err := fetchOffline(t, src, &goimap.FetchOptions{Envelope: true}); err == nil {
		t.Error("summary error not returned")
	}
}

// TestFetchOpensOnlyWhatItNeeds: BODY[] and sizes need neither the
// summary nor more than one read of the file.
func TestFetchOpensOnlyWhatItNeeds(t *testing.T) {
	msg := "Subject: x\r\n\r\nbody\r\n"
	src := &ctFake{msg: maildir.Message{UID: 1, Size: int64(len(msg))}, data: msg, failSum: errors.New("no summary")}
	res, err := fetchOffline(t, src, &goimap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "UID 1 RFC822.SIZE 20 BODY[] " + lit(msg); res.wire != want {
		t.Errorf("got %q, want %q", res.wire, want)
	}
	if src.opens != 1 {
		t.Errorf("%d opens, want 1", src.opens)
	}
}

// TestFetchStreams fetches a 24 MiB message whole and in parts and checks
// that the server did not hold it in memory.
func TestFetchStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("large message")
	}
	var b strings.Builder
	b.WriteString("Subject: large\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\n")
	line := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("0123456789", 6)[:57])) + "\n"
	for b.Len() < 24<<20 {
		b.WriteString(line)
	}
	b.WriteString("--b--\n")
	size := int64(b.Len()) + int64(strings.Count(b.String(), "\n"))
	c := startContentServer(t, ctMsg{body: b.String()})
	b.Reset()
	c.ok("FETCH 1 (BODY.PEEK[HEADER])") // the summary, once
	for _, args := range []string{"1 (BODY.PEEK[])", "1 (BINARY.PEEK[1])", "1 (BODY.PEEK[1]<1000000.1000>)", "1 (BINARY.SIZE[1])"} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n := c.drain("FETCH " + args)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("FETCH %s (%d bytes) allocated %d bytes", args, n, alloc)
		}
		if args == "1 (BODY.PEEK[])" && n != size {
			t.Errorf("BODY[] is %d bytes, want %d", n, size)
		}
	}
}

// drain runs a command, discarding literals, and returns how many literal
// bytes came.
func (c *rawClient) drain(cmd string) int64 {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d ", c.n)
	fmt.Fprintf(c.conn, "%s%s\r\n", tag, cmd)
	var total int64
	br := c.br
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			c.t.Fatal(err)
		}
		if strings.HasPrefix(line, tag) {
			if !strings.HasPrefix(line, tag+"OK") {
				c.t.Fatalf("%s: %q", cmd, line)
			}
			return total
		}
		trim := strings.TrimSuffix(line, "\r\n")
		if i := strings.LastIndexByte(trim, '{'); i >= 0 && strings.HasSuffix(trim, "}") {
			n, _ := strconv.ParseInt(trim[i+1:len(trim)-1], 10, 64)
			io.CopyN(io.Discard, br, n)
			total += n
		}
	}
}
