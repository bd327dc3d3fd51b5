package maildir

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The uidlist of FORMATS.md, as Dovecot 2.3 wrote it.
const dovecotUidlist = `3 V1795373844 N7 G12b99e0f143b036bd631000083ecc375
1 :1795373844.M259436P12758.vm,S=66,W=71
3 :1795373865.M592236P12900.vm,S=22,W=25
4 :1795373865.M594931P12900.vm,S=21,W=24
5 :1795373865.M604318P12902.vm,S=65,W=70
6 W26 :1700000000.ext1.otherhost
`

func TestParseDovecotUidlist(t *testing.T) {
	ul, err := parseUidlist([]byte(dovecotUidlist))
	if err != nil {
		t.Fatal(err)
	}
	if ul.validity != 1795373844 || ul.next != 7 || ul.guid != "12b99e0f143b036bd631000083ecc375" || len(ul.recs) != 5 {
		t.Fatalf("%+v", ul)
	}
	if r := ul.recs[4]; r.uid != 6 || r.base != "1700000000.ext1.otherhost" || r.vsize() != 26 {
		t.Fatalf("%+v", r)
	}
	var buf bytes.Buffer
	ul.writeTo(&buf)
	if buf.String() != dovecotUidlist {
		t.Fatalf("rewrite differs:\n%s", buf.String())
	}
}

func TestParseUidlistV1AndExtras(t *testing.T) {
	ul, err := parseUidlist([]byte("1 1234 10\n3 1700.a.host:2,S\n8 1701.b.host\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ul.validity != 1234 || ul.next != 10 || ul.recs[0].base != "1700.a.host" || ul.recs[1].uid != 8 {
		t.Fatalf("%+v", ul)
	}
	// Unknown header fields and extensions are kept.
	in := "3 V5 N2 G00 Xfoo\n1 W3 Pabc :name\n"
	ul, err = parseUidlist([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ul.writeTo(&buf)
	if buf.String() != in {
		t.Fatalf("got %q", buf.String())
	}
	r := ul.recs[0]
	r.setVsize(9)
	if r.ext != "Pabc W9" {
		t.Fatalf("ext %q", r.ext)
	}
	// N below a record's UID: UIDNEXT is max+1.
	ul, _ = parseUidlist([]byte("3 V5 N2 G00\n1 :a\n9 :b\n"))
	if ul.next != 10 {
		t.Fatalf("next %d", ul.next)
	}
	// Empty lines and a final line without LF are fine.
	ul, err = parseUidlist([]byte("3 V5 N1 G00\n\n1 :a\n2 :b"))
	if err != nil || len(ul.recs) != 2 {
		t.Fatalf("%v %+v", err, ul)
	}
}

func TestParseUidlistMalformed(t *testing.T) {
	bad := []string{
		"",
		"3 V5 N1 G00",              // no newline at all
		"4 V5 N1\n",                // unknown version
		"3 N1 G00\n",               // no UIDVALIDITY
		"3 V0 N1\n",                // zero UIDVALIDITY
		"3 Vx N1\n",                // bad number
		"3 V5  N1\n",               // empty field
		"3 V99999999999 N1\n",      // over 32 bits
		"3 V5 N1\n1 a\n",           // no ':'
		"3 V5 N1\n0 :a\n",          // UID 0
		"3 V5 N1\n-1 :a\n",         // sign
		"3 V5 N1\n2 :a\n1 :b\n",    // not ascending
		"3 V5 N1\n1 :a\n1 :b\n",    // duplicate UID
		"3 V5 N1\n1 :a\n2 :a\n",    // duplicate name
		"3 V5 N1\n1 :../x\n",       // path separator
		"3 V5 N1\n1 :\n",           // empty name
		"3 V5 N1\n1 :..\n",         // dot-dot
		"3 V5 N1\n1 w3 :a\n",       // lowercase extension
		"3 V5 N1\n1 :a\x00b\n",     // NUL
		"3 V5 N1\n4294967295 :a\n", // UIDs exhausted
		"1 5\n",                    // short v1 header
		"1 5 2\n1\n",               // v1 record without name
		"\n1 :a\n",                 // empty header
	}
	for _, in := range bad {
		if _, err := parseUidlist([]byte(in)); !errors.Is(err, errCorruptUidlist) {
			t.Errorf("%q: err %v", in, err)
		}
	}
	if _, err := parseUidlist([]byte(strings.Repeat("x", 1000))); err == nil {
		t.Error("junk accepted")
	}
}
