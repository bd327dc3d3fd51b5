package auth

import (
	"bytes"
	"fmt"
	"strings"
)

// lineProblem is a malformed line found while parsing one of the files. The
// line stays in the file; the problem is only reported.
type lineProblem struct {
	line   int // 1-based
	reason string
}

func (p lineProblem) String() string { return fmt.Sprintf("line %d: %s", p.line, p.reason) }

// splitLines splits file content at '\n'. A final newline does not start an
// extra empty line, so joinLines(splitLines(b)) == b for any b that is empty
// or ends in '\n'.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func joinLines(lines []string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// isCommentOrBlank reports lines both files keep without reading: blank
// lines and lines whose first non-blank character is '#'.
func isCommentOrBlank(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || t[0] == '#'
}
