package maildir

// dovecot-keywords maps the keyword letters of message file names to IMAP
// keyword names, one "<index> <name>" line each, LF ends; index 0 is letter
// 'a', 25 is 'z'. Lines that do not parse, and indexes above 25, are
// ignored (Dovecot does the same). The file is written atomically under the
// uidlist dotlock.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const keywordsName = "dovecot-keywords"

// maxKeywordLen bounds a keyword name.
const maxKeywordLen = 255

// keywordTable is a folder's 26 keyword slots; "" is a free slot.
type keywordTable struct {
	names [26]string
}

func parseKeywords(data []byte) keywordTable {
	var t keywordTable
	for _, line := range strings.Split(string(data), "\n") {
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		idx, err := strconv.Atoi(line[:sp])
		name := line[sp+1:]
		if err != nil || idx < 0 || idx >= len(t.names) || !validKeyword(name) {
			continue
		}
		if t.lookup(name) >= 0 {
			continue // a duplicate name keeps its first letter
		}
		t.names[idx] = name
	}
	return t
}

func readKeywordsFile(path string) (keywordTable, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return keywordTable{}, nil
		}
		return keywordTable{}, fmt.Errorf("maildir: %w", err)
	}
	return parseKeywords(data), nil
}

func (t *keywordTable) writeTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, n := range t.names {
		if n != "" {
			fmt.Fprintf(bw, "%d %s\n", i, n)
		}
	}
	return bw.Flush()
}

// lookup returns the index of name (IMAP keywords compare without regard
// to case), or -1.
func (t *keywordTable) lookup(name string) int {
	for i, n := range t.names {
		if n != "" && strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// mask maps names to letter bits; missing lists the names without a letter.
func (t *keywordTable) mask(names []string) (m uint32, missing []string) {
	for _, n := range names {
		if i := t.lookup(n); i >= 0 {
			m |= 1 << i
		} else {
			missing = append(missing, n)
		}
	}
	return m, missing
}

// add gives name a letter; ErrTooManyKeyword when all 26 are taken.
func (t *keywordTable) add(name string) (int, error) {
	if i := t.lookup(name); i >= 0 {
		return i, nil
	}
	for i, n := range t.names {
		if n == "" {
			t.names[i] = name
			return i, nil
		}
	}
	return -1, ErrTooManyKeyword
}

// list returns the names of the letters in m, in letter order.
func (t *keywordTable) list(m uint32) []string {
	if m == 0 {
		return nil
	}
	var out []string
	for i, n := range t.names {
		if m&(1<<i) != 0 && n != "" {
			out = append(out, n)
		}
	}
	return out
}

// validKeyword reports whether k is an IMAP flag-keyword (RFC 3501 atom:
// printable ASCII without SP, "(", ")", "{", "%", "*", '"', "\" or "]").
// System flags (with "\") are not keywords.
func validKeyword(k string) bool {
	if k == "" || len(k) > maxKeywordLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkKeywords validates names for StoreFlags and Append.
func checkKeywords(names []string) error {
	for _, n := range names {
		if !validKeyword(n) {
			return fmt.Errorf("%w: %q", ErrBadKeyword, n)
		}
	}
	return nil
}
