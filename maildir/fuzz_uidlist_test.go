package maildir

import (
	"bytes"
	"testing"
)

// FuzzUidlist: the parser never panics, and what it accepts survives a
// write and a second parse unchanged.
func FuzzUidlist(f *testing.F) {
	f.Add([]byte(dovecotUidlist))
	f.Add([]byte("1 1234 10\n3 1700.a.host:2,S\n"))
	f.Add([]byte("3 V5 N2 G00 Xfoo\n1 W3 Pabc :name\n"))
	f.Add([]byte("3 V5 N1\n2 :a\n1 :b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ul, err := parseUidlist(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := ul.writeTo(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := parseUidlist(buf.Bytes())
		if err != nil {
			t.Fatalf("own output refused: %v\n%q", err, buf.Bytes())
		}
		if again.validity != ul.validity || again.next != ul.next || len(again.recs) != len(ul.recs) {
			t.Fatalf("round trip: %+v vs %+v", again, ul)
		}
		for i := range ul.recs {
			if again.recs[i] != ul.recs[i] {
				t.Fatalf("record %d: %+v vs %+v", i, again.recs[i], ul.recs[i])
			}
		}
	})
}
