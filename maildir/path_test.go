package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Root: t.TempDir(), NoInotify: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUserRoot(t *testing.T) {
	s := newTestStore(t)
	tests := []struct{ addr, want string }{
		{"alice@example.org", "example.org/alice"},
		{"Alice@Example.ORG", "example.org/Alice"}, // domain case folds, local part does not
		{"a.b+tag@example.org", "example.org/a.b+tag"},
		{"jürgen@exämple.org", "exämple.org/jürgen"},
	}
	for _, tt := range tests {
		got, err := s.userRoot(tt.addr)
		if err != nil || got != filepath.Join(s.root, tt.want) {
			t.Errorf("userRoot(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

func TestUserRootBad(t *testing.T) {
	s := newTestStore(t)
	bad := []string{
		"", "alice", "@example.org", "alice@", "a@b@example.org",
		"../x@example.org", "alice@..", "alice@.", ".alice@example.org",
		"a/b@example.org", "alice@example.org/..", "alice@/etc",
		"al\x00ice@example.org", "al\nice@example.org", `a\b@example.org`,
		"al\xffice@example.org",
		strings.Repeat("a", 250) + "@example.org",
	}
	for _, addr := range bad {
		if got, err := s.userRoot(addr); !errors.Is(err, ErrBadAddress) {
			t.Errorf("userRoot(%q) = %q, %v; want ErrBadAddress", addr, got, err)
		}
	}
}

func TestFolderDir(t *testing.T) {
	s := newTestStore(t)
	root := filepath.Join(s.root, "example.org", "alice")
	tests := []struct{ name, want string }{
		{"INBOX", ""},
		{"inbox", ""},
		{"InBoX", ""},
		{"Family", ".Family"},
		{"Family/Photos", ".Family.Photos"},
		{"a/b/c", ".a.b.c"},
		{"Sent Items", ".Sent Items"},
		{"Über", ".&ANw-ber"},
		{"Tom & Jerry", ".Tom &- Jerry"},
		{"inbox/Sub", ".INBOX.Sub"}, // INBOX as a parent is case-insensitive too
		{"INBOXES", ".INBOXES"},
		{"~peter/mail", ".~peter.mail"},
	}
	for _, tt := range tests {
		got, err := s.folderDir("alice@example.org", tt.name)
		if err != nil || got != filepath.Join(root, tt.want) {
			t.Errorf("folderDir(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestFolderDirBad(t *testing.T) {
	s := newTestStore(t)
	bad := []string{
		"", ".", "..", "../x", "a/../b", "/etc", "/", "a/", "a//b", "a.b",
		".hidden", "x/.", `a\b`, `..\x`, "a\x00b", "a\nb", "a\x7fb", "a\u0085b",
		"\xff", "DOVECOT-TRASH",
		strings.Repeat("x", 255),        // 256 bytes with the leading "."
		strings.Repeat("ä", 100),        // short in UTF-8, long in UTF-7
		strings.Repeat("a/", 127) + "a", // 128 levels: 256 bytes on disk
	}
	for _, name := range bad {
		if got, err := s.folderDir("alice@example.org", name); !errors.Is(err, ErrBadFolderName) {
			t.Errorf("folderDir(%q) = %q, %v; want ErrBadFolderName", name, got, err)
		}
	}
	if _, err := s.folderDir("../x@example.org", "INBOX"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("folderDir with a bad address: %v; want ErrBadAddress", err)
	}
	// The longest name that fits is accepted.
	if _, err := s.folderDir("alice@example.org", strings.Repeat("x", 254)); err != nil {
		t.Errorf("254-byte name: %v", err)
	}
}

func TestFolderNameFromDir(t *testing.T) {
	good := map[string]string{
		".Family":        "Family",
		".Family.Photos": "Family/Photos",
		".&ANw-ber":      "Über",
		".Tom &- Jerry":  "Tom & Jerry",
		".INBOX.Sub":     "INBOX/Sub",
	}
	for dir, want := range good {
		if got, ok := folderNameFromDir(dir); !ok || got != want {
			t.Errorf("folderNameFromDir(%q) = %q, %v; want %q", dir, got, ok, want)
		}
	}
	for _, dir := range []string{
		"cur", ".", "..", ".a..b", ".a.", ".&AGE-", ".&ANw", ".DOVECOT-TRASH",
		".INBOX", ".inbox", ".inbox.x", ".a&AFw-b", ".a&AAA-b",
	} {
		if got, ok := folderNameFromDir(dir); ok {
			t.Errorf("folderNameFromDir(%q) = %q; want not a folder", dir, got)
		}
	}
}

func TestEnsureUserRoot(t *testing.T) {
	s := newTestStore(t)
	root, err := s.ensureUserRoot("alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range maildirSubdirs {
		if fi, err := os.Stat(filepath.Join(root, sub)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", sub, err)
		}
	}
	// A root whose creation was cut short is completed.
	if err := os.Remove(filepath.Join(root, "tmp")); err != nil {
		t.Fatal(err)
	}
	if err := ensureMaildir(root, owner{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "tmp")); err != nil {
		t.Errorf("tmp not recreated: %v", err)
	}
}
