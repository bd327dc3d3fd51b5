package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// putMessage drops a message file as another program would.
func putMessage(t *testing.T, dir, sub, name string, size int) {
	t.Helper()
	if err := ensureMaildir(dir, owner{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sub, name), make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkUsage(t *testing.T, s *Store, addr string, wantBytes, wantCount int64) {
	t.Helper()
	b, c, err := s.Usage(addr)
	if err != nil || b != wantBytes || c != wantCount {
		t.Fatalf("Usage = %d, %d, %v; want %d, %d", b, c, err, wantBytes, wantCount)
	}
}

func TestUsageWalksWhenMissing(t *testing.T) {
	s := newTestStore(t)
	root, _ := s.userRoot("alice@example.org")
	putMessage(t, root, "new", "1.M1P1.vm,S=66,W=71", 1)     // S= is trusted, not the file
	putMessage(t, root, "cur", "2.M1P1.vm,S=10,W=12:2,S", 1) // flags do not hide S=
	putMessage(t, root, "cur", "3.ext.otherhost:2,", 7)      // no S=: stat
	putMessage(t, root, "cur", ".hidden", 100)               // not a message
	putMessage(t, filepath.Join(root, ".Family.Photos"), "cur", "4.M1P1.vm,S=5:2,", 1)
	putMessage(t, filepath.Join(root, trashDirName), "cur", "5.M1P1.vm,S=1000:2,", 1)
	putMessage(t, root, "tmp", "6.M1P1.vm,S=1000", 1) // not delivered yet

	checkUsage(t, s, "alice@example.org", 66+10+7+5, 4)
	if got := readFile(t, filepath.Join(root, maildirsizeName)); got != "\n88 4\n" {
		t.Errorf("maildirsize = %q", got)
	}
}

func TestUsageNoUser(t *testing.T) {
	s := newTestStore(t)
	checkUsage(t, s, "nobody@example.org", 0, 0)
	if _, err := os.Stat(filepath.Join(s.root, "example.org")); !os.IsNotExist(err) {
		t.Errorf("Usage created a directory for a user without mail: %v", err)
	}
	if err := s.addUsage("nobody@example.org", 10, 1); err != nil {
		t.Errorf("addUsage without a maildirsize: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "example.org")); !os.IsNotExist(err) {
		t.Errorf("addUsage created a directory for a user without mail: %v", err)
	}
}

func TestAddUsage(t *testing.T) {
	s := newTestStore(t)
	const addr = "alice@example.org"
	root, _ := s.userRoot(addr)
	putMessage(t, root, "new", "1.M1P1.vm,S=100", 1)
	checkUsage(t, s, addr, 100, 1)

	if err := s.addUsage(addr, 50, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.addUsage(addr, -100, -1); err != nil {
		t.Fatal(err)
	}
	if err := s.addUsage(addr, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, maildirsizeName)); got != "\n100 1\n50 1\n-100 -1\n" {
		t.Errorf("maildirsize = %q", got)
	}
	// Usage trusts the file: no walk (the message on disk is not recounted).
	putMessage(t, root, "new", "2.M1P1.vm,S=7", 1)
	checkUsage(t, s, addr, 50, 1)
}

func TestAddUsageConcurrent(t *testing.T) {
	s := newTestStore(t)
	const addr = "alice@example.org"
	root, _ := s.ensureUserRoot(addr)
	checkUsage(t, s, addr, 0, 0)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				if err := s.addUsage(addr, 3, 1); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	checkUsage(t, s, addr, 600, 200)
	if n := strings.Count(readFile(t, filepath.Join(root, maildirsizeName)), "\n"); n != 202 {
		t.Errorf("maildirsize has %d lines, want 202 (no interleaved writes)", n)
	}
}

func TestUsageRecalculates(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"too big", "\n" + strings.Repeat("1 1\n", maildirsizeMax/4+1), "\n30 2\n"},
		{"garbage line", "\n10 1\nten one\n", "\n30 2\n"},
		{"three fields", "\n10 1 1\n", "\n30 2\n"},
		{"negative total", "\n10 1\n-20 -2\n", "\n30 2\n"},
		{"overflow", "\n9223372036854775807 1\n1 1\n", "\n30 2\n"},
		{"no usage line", "\n", "\n30 2\n"},
		{"bad definition", "lots\n10 1\n", "\n30 2\n"},
		{"definition kept", "1000000S,1000C\n-1 -1\n", "1000000S,1000C\n30 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			const addr = "alice@example.org"
			root, _ := s.userRoot(addr)
			putMessage(t, root, "cur", "1.M1P1.vm,S=10:2,S", 1)
			putMessage(t, root, "new", "2.M1P1.vm,S=20", 1)
			path := filepath.Join(root, maildirsizeName)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			checkUsage(t, s, addr, 30, 2)
			if got := readFile(t, path); got != tt.want {
				t.Errorf("maildirsize = %q; want %q", got, tt.want)
			}
		})
	}
}

// A line still being appended by another process is not corruption.
func TestUsageIgnoresPartialLastLine(t *testing.T) {
	s := newTestStore(t)
	const addr = "alice@example.org"
	root, _ := s.ensureUserRoot(addr)
	path := filepath.Join(root, maildirsizeName)
	if err := os.WriteFile(path, []byte("5000S\n10 1\n5 1\n-3"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, s, addr, 15, 2)
	if got := readFile(t, path); got != "5000S\n10 1\n5 1\n-3" {
		t.Errorf("maildirsize rewritten: %q", got)
	}
}

func TestSizeFromName(t *testing.T) {
	tests := []struct {
		name string
		size int64
		ok   bool
	}{
		{"1795373865.M592236P12900.vm,S=22,W=25", 22, true},
		{"1795373865.M592236P12900.vm,S=22,W=25:2,Sb", 22, true},
		{"1795373865.M592236P12900.vm,W=25,S=22:2,", 22, true},
		{"1700000000.ext1.otherhost", 0, false},
		{"1700000000.ext1.otherhost:2,S", 0, false},
		{"x,S=-1", 0, false},
		{"x,S=", 0, false},
		{"x,S=1e3", 0, false},
		{"x:2,S=5", 0, false}, // after the colon it is flags, not a size
	}
	for _, tt := range tests {
		size, ok := sizeFromName(tt.name)
		if size != tt.size || ok != tt.ok {
			t.Errorf("sizeFromName(%q) = %d, %v; want %d, %v", tt.name, size, ok, tt.size, tt.ok)
		}
	}
}
