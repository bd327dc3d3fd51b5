package maildir

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeywordsFile(t *testing.T) {
	// FORMATS.md bytes, plus lines Dovecot would ignore.
	tab := parseKeywords([]byte("0 $Important\n1 Work\nbad\n27 Far\nx Y\n3 work\n4 a b\n"))
	if tab.names[0] != "$Important" || tab.names[1] != "Work" || tab.names[3] != "" || tab.names[4] != "" {
		t.Fatalf("%q", tab.names)
	}
	var buf bytes.Buffer
	tab.writeTo(&buf)
	if buf.String() != "0 $Important\n1 Work\n" {
		t.Fatalf("%q", buf.String())
	}
	if tab.lookup("work") != 1 || tab.lookup("x") != -1 {
		t.Fatal("lookup")
	}
	m, missing := tab.mask([]string{"WORK", "new"})
	if m != 2 || len(missing) != 1 {
		t.Fatal(m, missing)
	}
	for i := 0; i < 24; i++ {
		if _, err := tab.add(string(rune('A'+i)) + "kw"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.add("one-too-many"); !errors.Is(err, ErrTooManyKeyword) {
		t.Fatal(err)
	}
	if got := tab.list(1 | 1<<25); len(got) != 2 || got[0] != "$Important" {
		t.Fatal(got)
	}
}
