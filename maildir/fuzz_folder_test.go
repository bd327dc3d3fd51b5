package maildir

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFolderName checks the folder-name codec and the name-to-directory
// mapping: modified UTF-7 round-trips, and folderDir never leaves the
// user's root, whatever the name.
func FuzzFolderName(f *testing.F) {
	for _, seed := range []string{
		"INBOX", "inbox/x", "Family/Photos", "Über", "~peter/mail/台北/日本語",
		"&", "&-", "&ANw-ber", "../x", "/etc", ".", "", "a/../b", "a\x00b", `a\b`,
		"DOVECOT-TRASH", "😀/x", strings.Repeat("ä", 100),
	} {
		f.Add(seed)
	}
	s, err := Open(Options{Root: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	root, err := s.userRoot(alice)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		enc, err := encodeFolderName(name)
		if utf8.ValidString(name) != (err == nil) {
			t.Fatalf("encodeFolderName(%q): %v", name, err)
		}
		if err == nil {
			dec, err := decodeFolderName(enc)
			if err != nil || dec != name {
				t.Fatalf("round trip %q -> %q -> %q, %v", name, enc, dec, err)
			}
		}
		// Whatever decodes must encode back to the same bytes (one name,
		// one directory).
		if dec, err := decodeFolderName(name); err == nil {
			if again, err := encodeFolderName(dec); err != nil || again != name {
				t.Fatalf("%q decodes to %q, which encodes to %q, %v", name, dec, again, err)
			}
		}

		dir, err := s.folderDir(alice, name)
		if err != nil {
			if !errors.Is(err, ErrBadFolderName) {
				t.Fatalf("folderDir(%q): unexpected error %v", name, err)
			}
			return
		}
		if dir != root && filepath.Dir(dir) != root {
			t.Fatalf("folderDir(%q) = %q, outside %q", name, dir, root)
		}
		if dir == root {
			return
		}
		base := filepath.Base(dir)
		if len(base) > maxNameBytes || base == trashDirName {
			t.Fatalf("folderDir(%q) = %q", name, dir)
		}
		// The directory maps back to the same folder.
		canon, _ := canonicalFolderName(name)
		if back, ok := folderNameFromDir(base); !ok || back != canon {
			t.Fatalf("folderNameFromDir(%q) = %q, %v; want %q", base, back, ok, canon)
		}
		// And so does the subscriptions line for it.
		subs := parseSubscriptions(formatSubscriptions([]subscription{{name: canon}}))
		if len(subs) != 1 || subs[0].name != canon {
			t.Fatalf("subscriptions round trip of %q: %q", canon, subs)
		}
	})
}
