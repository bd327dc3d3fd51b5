package maildir

import (
	"strings"
	"testing"
)

// SubjectExact must be false whenever the envelope's Subject is not all
// of the message's Subject, so that SEARCH reads the file then.
func TestSummarySubjectExact(t *testing.T) {
	long := strings.Repeat("x", maxFieldLen+10)
	for _, tc := range []struct {
		name, msg string
		want      bool
	}{
		{"one", "Subject: hello\r\n\r\nbody\r\n", true},
		{"none", "From: a@b\r\n\r\nbody\r\n", true},
		{"folded", "Subject: hello\r\n  world\r\n\r\nbody\r\n", true},
		{"two", "Subject: first\r\nSubject: second\r\n\r\nbody\r\n", false},
		{"cut", "Subject: " + long + "\r\n\r\nbody\r\n", false},
		{"inner only counts outside", "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nx\r\n", true},
		{"huge header", "Subject: s\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 1100) + "\r\nbody\r\n", false},
	} {
		s, err := ParseSummary(strings.NewReader(tc.msg))
		if err != nil {
			t.Fatal(err)
		}
		if s.SubjectExact != tc.want {
			t.Errorf("%s: SubjectExact = %v, want %v", tc.name, s.SubjectExact, tc.want)
		}
	}
}
