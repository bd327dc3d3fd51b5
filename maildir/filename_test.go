package maildir

import (
	"strings"
	"testing"
	"time"
)

func TestParseFileNameAndCurName(t *testing.T) {
	cases := []struct {
		name  string
		base  string
		flags Flag
		kw    uint32
		out   string
	}{
		{"1795373865.M594931P12900.vm,S=21,W=24:2,Sb", "1795373865.M594931P12900.vm,S=21,W=24", FlagSeen, 2, "1795373865.M594931P12900.vm,S=21,W=24:2,Sb"},
		{"x:2,TSRPFD", "x", allFlags, 0, "x:2,DFPRST"},
		{"plain", "plain", 0, 0, "plain:2,"},
		{"a:2,", "a", 0, 0, "a:2,"},
		{"a:2,zaS", "a", FlagSeen, 1 | 1<<25, "a:2,Saz"},
		{"a:1,S", "a:1,S", 0, 0, "a:1,S:2,"},
	}
	for _, c := range cases {
		fi := parseFileName(c.name)
		if fi.base != c.base || fi.flags != c.flags || fi.kw != c.kw {
			t.Errorf("%s: %+v", c.name, fi)
		}
		if got := curName(fi.base, fi.flags, fi.kw, fi.other); got != c.out {
			t.Errorf("%s: curName %s, want %s", c.name, got, c.out)
		}
	}
	// Unknown uppercase letters survive a rename.
	fi := parseFileName("m:2,SXA")
	if got := curName(fi.base, fi.flags|FlagFlagged, fi.kw, fi.other); got != "m:2,AFSX" {
		t.Fatalf("got %s", got)
	}
	if FlagSeen.String() != "S" || (FlagDraft|FlagDeleted).String() != "DT" {
		t.Fatal("String")
	}
}

func TestSizesFromBase(t *testing.T) {
	cases := []struct {
		base string
		s, w int64
	}{
		{"1.M1P1.vm,S=66,W=71", 66, 71},
		{"1.M1P1.vm,W=71", -1, 71},
		{"1.M1P1.vm", -1, -1},
		{"1.M1P1.vm,S=x,W=-3", -1, -1},
		{"1.M1P1.vm,S=99999999999999999999", -1, -1},
		{"1.M1P1.vm,,S", -1, -1},
	}
	for _, c := range cases {
		if s, w := sizesFromBase(c.base); s != c.s || w != c.w {
			t.Errorf("%s: %d %d", c.base, s, w)
		}
	}
}

func TestValidBase(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a\x00", "x:2,S", strings.Repeat("a", 256)} {
		if validBase(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if !validBase("1795373865.M592236P12900.vm,S=22,W=25") {
		t.Fatal("good base refused")
	}
}

func TestUniqueNames(t *testing.T) {
	u := newUniqueNames()
	u.host = `my\057host`
	now := time.Unix(1700000000, 123456789)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		n := u.next(now)
		if seen[n] || !validBase(n) || !strings.HasPrefix(n, "1700000000.M123456P") {
			t.Fatalf("name %s", n)
		}
		seen[n] = true
	}
	if got := withSizes("b", 1, 2); got != "b,S=1,W=2" {
		t.Fatal(got)
	}
}
