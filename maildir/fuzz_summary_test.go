package maildir

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseSummary checks that no input makes ParseSummary panic or
// describe parts outside the message, and that every summary survives the
// cache encoding unchanged.
func FuzzParseSummary(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "summary", "*.eml"))
	for _, name := range files {
		if raw, err := os.ReadFile(name); err == nil {
			f.Add(raw)
			f.Add(toCRLF(raw))
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\n\n--a\n--a--\n--a\n"))
	f.Add([]byte("Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n\r\n"))
	f.Add([]byte("To: g: a@b, (c) <@x:y@z>;, \"q\\\"\" <>\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := mustParse(t, msg) // checks the invariants
		e := sumEncoder{}
		e.summary(s)
		d := sumDecoder{s: string(e.b)}
		got := d.summary()
		if d.bad || d.s != "" {
			t.Fatalf("encoding of a parsed summary does not decode")
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("cache round trip changed the summary:\n got %+v\nwant %+v", got, s)
		}
	})
}

// FuzzSummaryCacheDecode checks that any record payload decodes without a
// panic, and that what decodes encodes back to the same bytes.
func FuzzSummaryCacheDecode(f *testing.F) {
	e := sumEncoder{}
	e.summary(&Summary{Body: BodyPart{Type: "text", Subtype: "plain", Parts: []BodyPart{{Message: &BodyPart{}}}}})
	f.Add(e.b)
	f.Add([]byte{0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, payload []byte) {
		d := sumDecoder{s: string(payload)}
		s := d.summary()
		if d.bad || d.s != "" {
			return
		}
		e := sumEncoder{}
		e.summary(s)
		d2 := sumDecoder{s: string(e.b)}
		if s2 := d2.summary(); d2.bad || !reflect.DeepEqual(s, s2) {
			t.Fatalf("decoded summary does not round trip")
		}
	})
}
