package mailgen

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMaildirNamesTellTheTruth: the S= and W= in each name are the file's
// size and its size with CRLF line ends, as readers trust them to be.
func TestMaildirNamesTellTheTruth(t *testing.T) {
	dir := t.TempDir()
	if err := Maildir(dir, 20); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "cur"))
	if err != nil || len(entries) != 20 {
		t.Fatalf("%d files, %v", len(entries), err)
	}
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, "cur", e.Name()))
		s := strings.Split(strings.Split(e.Name(), ",S=")[1], ",W=")
		size, _ := strconv.Atoi(s[0])
		vsize, _ := strconv.Atoi(strings.Split(s[1], ":")[0])
		if size != len(data) || vsize != len(data)+strings.Count(string(data), "\n") {
			t.Errorf("%s: S=%d W=%d for %d bytes", e.Name(), size, vsize, len(data))
		}
	}
}
