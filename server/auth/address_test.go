package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	good := map[string]string{
		"alice@example.org":         "alice@example.org",
		"Alice@Example.ORG":         "alice@example.org",
		"ALICE+News@example.org":    "alice+news@example.org",
		"a.b-c_d@sub.example.co.uk": "a.b-c_d@sub.example.co.uk",
		"bob@lan":                   "bob@lan",
		"jörg@xn--mller-kva.de":     "jörg@xn--mller-kva.de",
		"x@a-b.c0":                  "x@a-b.c0",
	}
	for in, want := range good {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "alice", "@example.org", "alice@", "a@b@example.org",
		"al ice@example.org", "alice\t@example.org", "al\x00ice@example.org",
		"al:ice@example.org", "al,ice@example.org", "alice@exa mple.org",
		"alice@-example.org", "alice@example-.org", "alice@example..org",
		"alice@.example.org", "alice@example.org.", "alice@exam_ple.org",
		"alice@[127.0.0.1]", "\xff@example.org",
		strings.Repeat("a", 65) + "@example.org",
		"a@" + strings.Repeat("b", 64) + ".org",
		"a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "org",
		strings.Repeat("x", 400),
	}
	for _, in := range bad {
		got, err := Normalize(in)
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrBadAddress", in, got, err)
		}
	}
}

func TestStripTag(t *testing.T) {
	cases := map[string]string{
		"alice+news@example.org":  "alice@example.org",
		"alice+a+b@example.org":   "alice@example.org",
		"alice@example.org":       "alice@example.org",
		"+weird@example.org":      "+weird@example.org",
		"alice+@example.org":      "alice@example.org",
		"alice@plus+domain.local": "alice@plus+domain.local",
	}
	for in, want := range cases {
		if got := stripTag(in); got != want {
			t.Errorf("stripTag(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	if got, err := normalizeName("Bob@Example.org"); err != nil || got != "bob@example.org" {
		t.Fatalf("normalizeName = %q, %v", got, err)
	}
	for _, in := range []string{"bob+x@example.org", "a/b@example.org", `a\b@example.org`, "..@example.org", ".@example.org", "bad"} {
		if _, err := normalizeName(in); !errors.Is(err, ErrBadAddress) {
			t.Errorf("normalizeName(%q) error = %v; want ErrBadAddress", in, err)
		}
	}
}
