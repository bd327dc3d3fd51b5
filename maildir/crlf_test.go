package maildir

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestCRLFRoundTrip(t *testing.T) {
	cases := []struct{ in, stored, served string }{
		{"a\r\nb\r\n", "a\nb\n", "a\r\nb\r\n"},
		{"a\nb", "a\nb", "a\r\nb"},
		{"lone\rcr\r\n", "lone\rcr\n", "lone\rcr\r\n"},
		{"end\r", "end\r", "end\r"},
		{"\r\r\n", "\r\n", "\r\n"},
		{"", "", ""},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		lw := newLFWriter(&buf, 0)
		for i := 0; i < len(c.in); i++ { // byte by byte: state across writes
			lw.Write([]byte{c.in[i]})
		}
		if err := lw.flush(); err != nil {
			t.Fatal(err)
		}
		if buf.String() != c.stored || lw.size != int64(len(c.stored)) || lw.vsize != int64(len(c.served)) {
			t.Errorf("%q: stored %q size %d vsize %d", c.in, buf.String(), lw.size, lw.vsize)
		}
		for _, r := range []io.Reader{newCRLFReader(bytes.NewReader([]byte(c.stored))), iotest.OneByteReader(newCRLFReader(iotest.HalfReader(bytes.NewReader([]byte(c.stored)))))} {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != c.served {
				t.Errorf("%q: served %q %v", c.stored, got, err)
			}
		}
		if n, _ := crlfSize(bytes.NewReader([]byte(c.stored))); n != int64(len(c.served)) {
			t.Errorf("%q: crlfSize %d", c.stored, n)
		}
	}
	if err := iotest.TestReader(newCRLFReader(bytes.NewReader([]byte("x\ny\n"))), []byte("x\r\ny\r\n")); err != nil {
		t.Fatal(err)
	}
}

func TestLFWriterLimit(t *testing.T) {
	var buf bytes.Buffer
	lw := newLFWriter(&buf, 5)
	if _, err := lw.Write([]byte("ab\n")); err != nil { // vsize 4
		t.Fatal(err)
	}
	if _, err := lw.Write([]byte("c\n")); !errors.Is(err, ErrTooBig) { // vsize 7
		t.Fatalf("err %v", err)
	}
	if _, err := lw.Write([]byte("x")); !errors.Is(err, ErrTooBig) {
		t.Fatal("not sticky")
	}
}
