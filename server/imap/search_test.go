package imap

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// searchCorpus is the mailbox the SEARCH tests run on.
func searchCorpus(t *testing.T) []ctMsg {
	day := func(d, h int) time.Time { return time.Date(2024, 3, d, h, 0, 0, 0, time.Local) }
	return []ctMsg{
		{body: ctTestdata(t, "simple.eml"), flags: maildir.FlagSeen, date: day(5, 12)},
		{body: ctTestdata(t, "nested.eml"), flags: maildir.FlagSeen | maildir.FlagForwarded, date: day(6, 12)},
		{body: "From: =?iso-8859-1?q?J=F6rg?= <joerg@example.de>\nTo: Undisclosed: ;\nSubject: =?iso-8859-1?q?Gr=FC=DFe_aus?=\n  K=F6ln\nDate: Thu, 7 Mar 2024 09:00:00 +0100\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe aus K=F6ln\n" + strings.Repeat("padding line\n", 100),
			flags: maildir.FlagFlagged | maildir.FlagAnswered, keywords: []string{"Work"}, date: day(7, 12)},
		{body: "From: nobody@example.net\nX-Spam: yes\nSubject: no date\n\nplain\n", flags: maildir.FlagDraft | maildir.FlagDeleted, date: day(8, 12)},
		{body: "From: Zoë <zoe@example.net>\nBcc: hidden@example.net\nDate: Wed, 06 Mar 2024 01:00:00 +1400\nSubject: base64\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + base64.StdEncoding.EncodeToString([]byte("Ünïcödé body")) + "\n", date: day(9, 12)},
	}
}

func TestSearch(t *testing.T) {
	store, err := maildir.Open(maildir.Options{Root: filepath.Join(t.TempDir(), "mail")})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := store.OpenMailbox(ctUser, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range searchCorpus(t) {
		if _, err := mb.Append(strings.NewReader(m.body), m.flags, m.keywords, m.date); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mb.Sync(); err != nil {
		t.Fatal(err)
	}
	sizes := map[uint32]int64{}
	for _, m := range mb.Messages() {
		sizes[m.UID] = m.Size
	}
	mb.Close()
	c := serveSession(t, func() *contentSession {
		return &contentSession{store: store, recent: map[uint32]bool{5: true}}
	})
	if sizes[3] <= 1500 || sizes[1] >= 1500 || sizes[2] >= 1500 || sizes[4] >= 1500 || sizes[5] >= 1500 {
		t.Fatalf("sizes %v: the LARGER/SMALLER cases need others", sizes)
	}
	for _, tc := range []struct{ keys, want string }{
		{"ALL", "1 2 3 4 5"},
		{"1,3:4", "1 3 4"},
		{"*", "5"},
		{"UID 2:3", "2 3"},
		{"UID 4:*", "4 5"},
		// Flags.
		{"SEEN", "1 2"},
		{"UNSEEN", "3 4 5"},
		{"ANSWERED", "3"},
		{"UNANSWERED", "1 2 4 5"},
		{"FLAGGED", "3"},
		{"UNFLAGGED", "1 2 4 5"},
		{"DELETED", "4"},
		{"UNDELETED", "1 2 3 5"},
		{"DRAFT", "4"},
		{"UNDRAFT", "1 2 3 5"},
		{"KEYWORD Work", "3"},
		{"KEYWORD work", "3"},
		{"UNKEYWORD Work", "1 2 4 5"},
		{"KEYWORD $Forwarded", "2"},
		{"KEYWORD Other", ""},
		{"RECENT", "5"},
		{"NEW", "5"},
		{"OLD", "1 2 3 4"},
		// Sizes.
		{"LARGER 1500", "3"},
		{"SMALLER 1500", "1 2 4 5"},
		{"LARGER 10000000", ""},
		// Internal dates, by day in the server's zone.
		{"ON 7-Mar-2024", "3"},
		{"SINCE 7-Mar-2024", "3 4 5"},
		{"BEFORE 7-Mar-2024", "1 2"},
		{"SINCE 6-Mar-2024 BEFORE 8-Mar-2024", "2 3"},
		// Sent dates, by day in the Date header's own zone: 5 was sent on
		// 6 March at +1400 (5 March in UTC); 4 has no Date.
		{"SENTON 6-Mar-2024", "2 5"},
		{"SENTBEFORE 6-Mar-2024", "1 4"}, // no Date: 1970
		{"SENTSINCE 6-Mar-2024", "2 3 5"},
		{"NOT SENTON 6-Mar-2024", "1 3 4"},
		{"SENTON 1-Jan-1970", "4"},
		// Address fields: decoded, "name <mailbox@host>".
		{"FROM alice", "1"},
		{`FROM "Example <alice@"`, "1"},
		{"TO carol", "1"},
		{"TO undisclosed", "3"},
		{"BCC hidden", "5"},
		{"FROM @example.net", "4 5"},
		{`FROM "<nobody@"`, "4"},
		// Subject: decoded, case-insensitive, white space runs made one.
		{`SUBJECT "hello world and"`, "1"},
		{`SUBJECT "AUS K"`, "3"},
		{"SUBJECT nested", "2"},
		// Any header field.
		{`HEADER X-Spam ""`, "4"},
		{"HEADER x-spam YES", "4"},
		{"HEADER Message-ID 1234@", "1"},
		{`HEADER Received ""`, ""},
		// Bodies: transfer encodings and charsets undone.
		{`BODY "see the attachment"`, "2"},
		{`BODY "original text"`, "2"}, // in the attached message
		{`BODY "PDF-1.4"`, ""},        // not a text part
		{`BODY "Hi Erin"`, "2"},       // quoted-printable
		{`BODY "the original"`, ""},   // headers are not bodies
		{`BODY "padding LINE"`, "3"},
		{`BODY plain`, "1 4"},
		{`TEXT "the original"`, "2"},
		{`TEXT "x-spam: yes"`, "4"},
		{`TEXT "padding"`, "3"},
		{`TEXT "text/html"`, "2"}, // a part's header
		// Combinations.
		{"NOT SEEN", "3 4 5"},
		{"OR SEEN FLAGGED", "1 2 3"},
		{"OR (SEEN UID 2) DRAFT", "2 4"},
		{"NOT OR SEEN FLAGGED", "4 5"},
		{"SEEN NOT BODY erin", "1"},
		{"OR NOT SEEN UID 1", "1 3 4 5"},
		{"OR NOT SEEN LARGER 1500 UID 1", ""},
	} {
		lines := c.ok("SEARCH " + tc.keys)
		want := strings.TrimSpace("* SEARCH " + tc.want)
		if len(lines) != 1 || strings.TrimSpace(lines[0]) != want {
			t.Errorf("SEARCH %s: %q, want %q", tc.keys, lines, want)
		}
	}
	// 8-bit text comes in literals.
	for _, tc := range []struct{ key, text, want string }{
		{"FROM", "jörg", "3"},
		{"CC", "JÜRGEN", "1"},
		{"SUBJECT", "grüße", "3"},
		{"BODY", "GRÜSSE", ""}, // ß has no simple title case
		{"BODY", "grüße", "3"},
		{"BODY", "ÜNÏCÖDÉ", "5"},
		{"FROM", "zoë", "5"},
	} {
		lines := c.ok(fmt.Sprintf("SEARCH CHARSET UTF-8 %s {%d+}\r\n%s", tc.key, len(tc.text), tc.text))
		want := strings.TrimSpace("* SEARCH " + tc.want)
		if len(lines) != 1 || strings.TrimSpace(lines[0]) != want {
			t.Errorf("SEARCH %s %q: %q, want %q", tc.key, tc.text, lines, want)
		}
	}
	lines := c.ok("UID SEARCH UID 2:4 UNSEEN")
	if len(lines) != 1 || strings.TrimSpace(lines[0]) != "* SEARCH 3 4" {
		t.Errorf("UID SEARCH: %q", lines)
	}
}

// TestSearchNoRecent: a source that cannot tell \Recent has none.
func TestSearchNoRecent(t *testing.T) {
	src := &ctFake{msg: maildir.Message{UID: 1, Size: 10}, data: "A: b\r\n\r\nxy\r\n"}
	for _, tc := range []struct {
		c    goimap.SearchCriteria
		want bool
	}{
		{goimap.SearchCriteria{Flag: []goimap.Flag{`\Recent`}}, false},
		{goimap.SearchCriteria{NotFlag: []goimap.Flag{`\Recent`}}, true},
		{goimap.SearchCriteria{Body: []string{""}}, true},
		{goimap.SearchCriteria{Smaller: 11}, true},
		{goimap.SearchCriteria{Smaller: 10}, false},
		{goimap.SearchCriteria{Larger: 9}, true},
		{goimap.SearchCriteria{Larger: 10}, false},
	} {
		got, err := searchMatch(src, &tc.c, func(goimap.NumSet) bool { return true })
		if err != nil || got != tc.want {
			t.Errorf("%+v: %v, %v; want %v", tc.c, got, err, tc.want)
		}
	}
	if _, err := searchMatch(src, &goimap.SearchCriteria{ModSeq: &goimap.SearchCriteriaModSeq{ModSeq: 1}}, nil); err == nil {
		t.Error("MODSEQ accepted")
	}
}

// TestSearchStream: matches across read boundaries and cut UTF-8.
func TestSearchStream(t *testing.T) {
	text := strings.Repeat("a", 32<<10-3) + "Grüße" + strings.Repeat("b", 40<<10) + "END"
	for _, tc := range []struct {
		needle string
		want   bool
	}{
		{"GRÜSSE", false},
		{"grüße", true},
		{"aGRÜ", true},
		{"ßebbb", true},
		{"bend", true},
		{"endx", false},
	} {
		r := iotest.HalfReader(strings.NewReader(text))
		if got := searchStream(r, nil, foldString(tc.needle)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.needle, got, tc.want)
		}
	}
	latin := "x Gr\xfc\xdfe \x80"
	if !searchStream(strings.NewReader(latin), charsetDecoder("ISO-8859-1"), foldString("grüße")) {
		t.Error("latin-1 not decoded")
	}
	if !searchStream(strings.NewReader(latin), charsetDecoder("windows-1252"), foldString("e €")) {
		t.Error("windows-1252 not decoded")
	}
	if !searchStream(strings.NewReader("\xa4"), charsetDecoder("iso-8859-15"), foldString("€")) {
		t.Error("latin-9 not decoded")
	}
}

func TestSearchHeaderDecoding(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"=?utf-8?q?caf=C3=A9?= au lait", "café au lait"},
		{"=?iso-8859-1?q?K=F6ln?=", "Köln"},
		{"=?windows-1252?q?=80?=", "€"},
		{"=?x-unknown?q?abc?=", "abc"},
		{"=?broken", "=?broken"},
	} {
		if got := decodeHeader(tc.in); got != tc.want {
			t.Errorf("decodeHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	list := []maildir.Address{
		{Name: "A", Mailbox: "a", Host: "x"},
		{Mailbox: "team"}, {Mailbox: "b", Host: "y"}, {Name: "C", Mailbox: "c", Host: "z"}, {},
		{Mailbox: "d", Host: "w"},
	}
	if got, want := addressText(list), "A <a@x>, team: <b@y>, C <c@z>;, <d@w>"; got != want {
		t.Errorf("addressText = %q, want %q", got, want)
	}
}
