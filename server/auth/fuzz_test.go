package auth

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// ensureNewline is what a rewrite does to a file without a final newline.
func ensureNewline(data []byte) []byte {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return append(append([]byte(nil), data...), '\n')
	}
	return data
}

// FuzzParsePasswd checks that any input parses without panicking, is
// written back unchanged, and that every entry found is a valid address
// that can be looked up again after an edit elsewhere in the file.
func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte(dovecotPasswd))
	f.Add([]byte("a@b.c:{BLF-CRYPT}$2y$04$x"))
	f.Add([]byte("a@b.c\n:\n::\n#\n\r\n\x00@x:y\nA@B.C:1:2\n"))
	f.Add([]byte("x+y@d:{X}h:::\n../@d:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, _ := parsePasswd(data)
		if got := pf.bytes(); !bytes.Equal(got, ensureNewline(data)) {
			t.Fatalf("round trip changed %q into %q", data, got)
		}
		for user, i := range pf.users {
			if n, err := Normalize(user); err != nil || n != user {
				t.Fatalf("entry %q is not a normalized address: %v", user, err)
			}
			if pf.lines[i].user != user || strings.ContainsAny(pf.lines[i].hash, ":\n") {
				t.Fatalf("line %d does not match entry %q: %+v", i, user, pf.lines[i])
			}
		}
		names := pf.names()
		pf.add("fuzz-added@example.org", "{BLF-CRYPT}x")
		again, _ := parsePasswd(pf.bytes())
		for _, u := range append(names, "fuzz-added@example.org") {
			if _, ok := again.lookup(u); !ok {
				t.Fatalf("user %q lost after an add and re-parse", u)
			}
		}
	})
}

// FuzzParseAliases is FuzzParsePasswd for the aliases file.
func FuzzParseAliases(f *testing.F) {
	f.Add([]byte(familyAliases))
	f.Add([]byte("a@b.c: d@e.f"))
	f.Add([]byte(":\n a@b.c :,,, x@y.z ,\n#x\n\x00:\nA@B.C: a@b.c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		af, _ := parseAliases(data)
		if got := af.bytes(); !bytes.Equal(got, ensureNewline(data)) {
			t.Fatalf("round trip changed %q into %q", data, got)
		}
		before := af.all()
		for _, a := range before {
			if len(a.Targets) == 0 {
				t.Fatalf("alias %q without targets", a.Address)
			}
			for _, addr := range append([]string{a.Address}, a.Targets...) {
				if n, err := Normalize(addr); err != nil || n != addr {
					t.Fatalf("%q is not a normalized address: %v", addr, err)
				}
			}
		}
		af.add("fuzz-added@example.org", []string{"x@example.org"})
		again, _ := parseAliases(af.bytes())
		for _, a := range append(before, Alias{Address: "fuzz-added@example.org", Targets: []string{"x@example.org"}}) {
			if got, ok := again.lookup(a.Address); !ok || !slices.Equal(got, a.Targets) {
				t.Fatalf("alias %q: %v after rewrite; want %v", a.Address, got, a.Targets)
			}
		}
	})
}
