package maildir

import (
	"errors"
	"testing"
)

func TestEncodeFolderName(t *testing.T) {
	tests := []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"Sent Items", "Sent Items"},
		{"&", "&-"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"Über", "&ANw-ber"}, // observed from Dovecot 2.3 (FORMATS.md)
		// RFC 3501 §5.1.3 example.
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"日本語", "&ZeVnLIqe-"},
		{"😀", "&2D3eAA-"},          // outside the BMP: a surrogate pair
		{"a\x01b", "a&AAE-b"},      // control characters are not printable ASCII
		{"äöü", "&AOQA9gD8-"},      // one section for the whole run
		{"ä x ö", "&AOQ- x &APY-"}, // printable ASCII ends a section
		{"", ""},
	}
	for _, tt := range tests {
		got, err := encodeFolderName(tt.utf8)
		if err != nil || got != tt.mutf7 {
			t.Errorf("encodeFolderName(%q) = %q, %v; want %q", tt.utf8, got, err, tt.mutf7)
		}
		back, err := decodeFolderName(tt.mutf7)
		if err != nil || back != tt.utf8 {
			t.Errorf("decodeFolderName(%q) = %q, %v; want %q", tt.mutf7, back, err, tt.utf8)
		}
	}
}

func TestEncodeFolderNameInvalidUTF8(t *testing.T) {
	for _, in := range []string{"\xff", "a\xc3", "\xed\xa0\x80" /* encoded surrogate */} {
		if got, err := encodeFolderName(in); !errors.Is(err, errBadMUTF7) {
			t.Errorf("encodeFolderName(%q) = %q, %v; want errBadMUTF7", in, got, err)
		}
	}
}

// Only the canonical encoding decodes, so that one folder has exactly one
// on-disk name.
func TestDecodeFolderNameStrict(t *testing.T) {
	bad := []string{
		"&",          // unterminated
		"&ANw",       // unterminated section
		"Drafts &x",  // observed: Dovecot refuses it as "not valid mUTF-7"
		"&AGE-",      // "a" must not be base64-encoded
		"&ANw-&ANw-", // adjacent sections must be one
		"&ANx-",      // non-zero padding bits
		"&ANwA-",     // a partial UTF-16 unit
		"&ANw=-",     // "=" is not in the alphabet
		"&AN/-",      // "/" is replaced by "," in modified base64
		"&2D0-",      // lone high surrogate
		"&3gA-",      // lone low surrogate
		"&2D3YPQ-",   // high surrogate followed by a high surrogate
		"a\x7fb",     // DEL is not printable
		"\xc3\xbc",   // raw 8-bit bytes
		"tab\there",  // control character
	}
	for _, in := range bad {
		if got, err := decodeFolderName(in); !errors.Is(err, errBadMUTF7) {
			t.Errorf("decodeFolderName(%q) = %q, %v; want errBadMUTF7", in, got, err)
		}
	}
}
