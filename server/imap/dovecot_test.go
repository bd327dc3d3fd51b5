package imap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildird/maildird/internal/dovecottest"
	"github.com/maildird/maildird/maildir"
)

// rawClient speaks IMAP as bytes, so two servers' answers can be compared
// byte for byte.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	n    int
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	c.readLine() // greeting
	return c
}

// readLine reads one response line with the literals it announces.
func (c *rawClient) readLine() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (have %q)", err, b.String()+line)
		}
		b.WriteString(line)
		trim := strings.TrimSuffix(line, "\r\n")
		if !strings.HasSuffix(trim, "}") {
			return b.String()
		}
		i := strings.LastIndexByte(trim, '{')
		n, err := strconv.Atoi(strings.TrimSuffix(trim[i+1:], "}"))
		if i < 0 || err != nil {
			return b.String()
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		b.Write(buf)
	}
}

// do sends one command and returns every line up to the tagged one.
func (c *rawClient) do(cmd string) []string {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, cmd); err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for {
		l := c.readLine()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// The comparison test: the same Maildir served by a real Dovecot 2.3 and
// by maildird (writeFetchItems and searchMatch behind go-imap), the same
// FETCH and SEARCH commands sent to both, the answers compared byte for
// byte (but for the tagged status line's text). The differences still
// known are named by knownDifference and counted (cmpStats); anything
// else fails.

// cmpCorpus lists the messages of the comparison: maildir's summary test
// messages and testdata/corpus.
func cmpCorpus(t *testing.T) []string {
	t.Helper()
	a, _ := filepath.Glob(filepath.Join("..", "..", "maildir", "testdata", "summary", "*.eml"))
	b, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.eml"))
	files := append(a, b...)
	if len(a) == 0 || len(b) == 0 {
		t.Fatal("no corpus")
	}
	return files
}

// writeCorpus stores files, as they are, in the INBOX of ctUser under root.
func writeCorpus(t *testing.T, root string, files []string) {
	t.Helper()
	box := filepath.Join(root, "example.org", "alice")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(box, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(box, "cur", fmt.Sprintf("17000%05d.M%dP1.cmp:2,", i, i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		tm := time.Date(2024, 3, 1+i%28, 12, 0, 0, 0, time.UTC)
		if err := os.Chtimes(p, tm, tm); err != nil {
			t.Fatal(err)
		}
	}
}

// cmpStats counts the tolerated differences by kind.
type cmpStats map[string]int

func TestDovecotComparison(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mail")
	files := cmpCorpus(t)
	writeCorpus(t, root, files)
	d := dovecottest.Start(t, dovecottest.Options{MailRoot: root, Users: map[string]string{ctUser: ctPass}})
	dc := dialRaw(t, d.IMAPAddr)
	dc.ok("LOGIN " + ctUser + " " + ctPass)
	dc.ok("EXAMINE INBOX") // Dovecot writes its uidlist: both see the same UIDs

	store, err := maildir.Open(maildir.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	mc := serveSession(t, func() *contentSession { return &contentSession{store: store} })

	stats := cmpStats{}
	items := 0
	for i, f := range files {
		seq := i + 1
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := maildir.ParseSummary(strings.NewReader(strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n", "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range cmpFetchItems(sum) {
			items++
			cmd := fmt.Sprintf("FETCH %d (%s)", seq, item)
			want, got := dc.do(cmd), mc.do(cmd)
			if why := knownDifference(filepath.Base(f), item, sum, want); why != "" {
				if !sameLines(got, want) {
					stats[why]++
				}
				continue
			}
			if !sameLines(got, want) {
				t.Errorf("%s: %s:\n maildird %q\n  dovecot %q", filepath.Base(f), cmd, got, want)
			}
		}
		// Several items at once: the order and the names of the answer.
		for _, list := range cmpItemLists {
			items++
			cmd := fmt.Sprintf(list, seq)
			want, got := dc.do(cmd), mc.do(cmd)
			if sameLines(got, want) {
				continue
			}
			if why := knownDifference(filepath.Base(f), "BINARY.SIZE[1]", sum, want); why != "" && strings.Contains(list, "BINARY.SIZE[1]") {
				stats[why]++
				continue
			}
			t.Errorf("%s: %s:\n maildird %q\n  dovecot %q", filepath.Base(f), cmd, got, want)
		}
	}
	searches := 0
	for _, keys := range cmpSearchKeys {
		searches++
		for _, prefix := range []string{"SEARCH ", "UID SEARCH "} {
			want, got := searchLines(dc.do(prefix+keys)), searchLines(mc.do(prefix+keys))
			if !sameLines(got, want) {
				t.Errorf("%s%s:\n maildird %q\n  dovecot %q", prefix, keys, got, want)
			}
		}
	}
	t.Logf("compared %d FETCH items over %d messages and %d SEARCH keys (twice each); tolerated differences: %v",
		items, len(files), searches, map[string]int(stats))
}

// knownDifference names a difference with Dovecot that is known and not
// fixed here, or returns "".
func knownDifference(file, item string, s *maildir.Summary, dovecot []string) string {
	if strings.HasPrefix(item, "BINARY.SIZE") && !strings.Contains(dovecot[len(dovecot)-1], "NO ") {
		part := strings.TrimSuffix(item[strings.IndexByte(item, '[')+1:], "]")
		p := &s.Body
		if part != "" {
			var nums []int
			for _, n := range strings.Split(part, ".") {
				i, _ := strconv.Atoi(n)
				nums = append(nums, i)
			}
			p, _ = s.Part(nums...)
		}
		if p != nil && (p.IsMultipart() || p.IsMessage() || part == "") {
			// Dovecot counts the parts it rewrote inside a composite
			// entity twice (binaryconv.go); we answer the length of
			// what BINARY sends.
			return "BINARY.SIZE of a composite part: Dovecot counts rewritten parts twice"
		}
	}
	return ""
}

// cmpFetchItems lists the items asked of one message: the whole-message
// ones, and for every part its body, MIME header, and (message/rfc822)
// HEADER and TEXT, with partials and a part that does not exist.
func cmpFetchItems(s *maildir.Summary) []string {
	items := []string{
		"UID", "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE",
		"BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "RFC822.HEADER",
		"BODY.PEEK[]<0.20>", "BODY.PEEK[]<7.100000>", "BODY.PEEK[]<100000.10>", "BODY.PEEK[TEXT]<3.40>",
		"BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]", "BODY.PEEK[HEADER.FIELDS (subject x-none)]",
		"BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT DATE)]", "BODY.PEEK[HEADER.FIELDS (X-FOLDED)]<2.5>",
		"BINARY.PEEK[]", "BINARY.SIZE[]",
	}
	var walk func(p *maildir.BodyPart, path string)
	walk = func(p *maildir.BodyPart, path string) {
		items = append(items, "BODY.PEEK["+path+"]", "BODY.PEEK["+path+".MIME]", "BODY.PEEK["+path+"]<2.9>",
			"BODY.PEEK["+path+".HEADER]", "BODY.PEEK["+path+".TEXT]", "BODY.PEEK["+path+".HEADER.FIELDS (SUBJECT)]")
		if knownEncoding(p) {
			items = append(items, "BINARY.PEEK["+path+"]", "BINARY.SIZE["+path+"]")
		}
		switch {
		case p.IsMultipart():
			for i := range p.Parts {
				walk(&p.Parts[i], fmt.Sprintf("%s.%d", path, i+1))
			}
		case p.IsMessage() && p.Message.IsMultipart():
			for i := range p.Message.Parts {
				walk(&p.Message.Parts[i], fmt.Sprintf("%s.%d", path, i+1))
			}
		case p.IsMessage():
			walk(p.Message, path+".1")
		}
	}
	if s.Body.IsMultipart() {
		for i := range s.Body.Parts {
			walk(&s.Body.Parts[i], strconv.Itoa(i+1))
		}
	} else {
		walk(&s.Body, "1")
	}
	return append(items, "BODY.PEEK[9]", "BODY.PEEK[1.9.MIME]", "BINARY.SIZE[9]")
}

// cmpItemLists are FETCH commands asking for several items, %d the
// message. FLAGS are left out: \Recent is each session's own.
var cmpItemLists = []string{
	"FETCH %d (BODY.PEEK[] UID RFC822.SIZE ENVELOPE INTERNALDATE)",
	"UID FETCH %d (RFC822.SIZE BODYSTRUCTURE body.peek[header.fields (From \"Subject\")]<0.30> UID ENVELOPE INTERNALDATE)",
	"FETCH %d (BODY BODYSTRUCTURE rfc822.header UID UID BODY)",
	"FETCH %d (BODY.PEEK[HEADER.FIELDS.NOT (Date)] BODY.PEEK[1] BODY.PEEK[TEXT]<2.3> RFC822.SIZE)",
	"FETCH %d (BINARY.SIZE[1] INTERNALDATE BINARY.PEEK[1]<0.5>)",
}

var cmpSearchKeys = []string{
	"ALL", "1:3,5", "UID 2:4", "LARGER 1000", "SMALLER 300", "NOT LARGER 400",
	"SINCE 3-Mar-2024", "BEFORE 5-Mar-2024", "ON 4-Mar-2024",
	"SENTBEFORE 6-Mar-2024", "SENTSINCE 6-Mar-2024", "SENTON 5-Mar-2024", "NOT SENTBEFORE 1-Jan-2030",
	"FROM example.com", "FROM alice", `FROM "Alice Example"`, "TO dan", "CC juergen", "BCC x", `FROM "<"`,
	"SUBJECT nested", `SUBJECT "hello world"`, "SUBJECT long", `SUBJECT "understand the example"`,
	`HEADER Content-Type multipart`, `HEADER X-Folded ""`, `HEADER Message-ID example`, `HEADER MIME-Version ""`,
	"BODY text", "BODY erin", "BODY PDF", "BODY original", `BODY "the original"`, "BODY innermost",
	`TEXT "the original"`, "TEXT boundary", "TEXT innermost", "TEXT subject",
	"SEEN", "UNSEEN", "DELETED", "KEYWORD x", "NOT KEYWORD x", "ANSWERED", "DRAFT",
	"OR FROM alice BODY text", "NOT OR SUBJECT a SUBJECT e", "(OR LARGER 500 SMALLER 100) NOT BODY x",
}

// searchLines keeps the SEARCH result and the status of an answer
// (Dovecot adds FLAGS when a search names a new keyword).
func searchLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "* SEARCH") || !strings.HasPrefix(l, "* ") {
			out = append(out, l)
		}
	}
	return out
}

func sameLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if stripTag(a[i]) != stripTag(b[i]) {
			return false
		}
	}
	return true
}

// stripTag removes a tagged status line's tag and text.
func stripTag(l string) string {
	if strings.HasPrefix(l, "t") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			return f[1]
		}
	}
	return l
}
