package maildir

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Folder names are stored on disk, and in the subscriptions file, in
// modified UTF-7 (RFC 3501 §5.1.3), the encoding Dovecot 2.3 uses for
// Maildir++ without the UTF-8 option: printable US-ASCII stands for itself
// except "&", which is written "&-"; every other character is UTF-16BE in a
// "&...-" section of base64 with "," in place of "/" and no padding.

const mutf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var errBadMUTF7 = errors.New("maildir: invalid modified UTF-7")

// mutf7Value maps an alphabet byte to its 6-bit value; 0xff marks bytes
// outside the alphabet.
func mutf7Value(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '+':
		return 62
	case c == ',':
		return 63
	}
	return 0xff
}

func isPrintableASCII(r rune) bool { return r >= 0x20 && r <= 0x7e }

// EncodeMUTF7 is a folder name as IMAP4rev1 sends it (and as it is
// stored): modified UTF-7. It fails only on invalid UTF-8.
func EncodeMUTF7(name string) (string, error) { return encodeFolderName(name) }

// encodeFolderName turns a UTF-8 folder name into modified UTF-7. It fails
// only on invalid UTF-8, which no IMAP client can mean.
func encodeFolderName(name string) (string, error) {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size <= 1 {
			return "", errBadMUTF7
		}
		if isPrintableASCII(r) {
			b.WriteRune(r)
			if r == '&' {
				b.WriteByte('-')
			}
			i += size
			continue
		}
		// One section covers the whole run of characters that need it;
		// splitting a run into several sections would not be canonical.
		j := i
		var units []uint16
		for j < len(name) {
			r, size := utf8.DecodeRuneInString(name[j:])
			if r == utf8.RuneError && size <= 1 {
				return "", errBadMUTF7
			}
			if isPrintableASCII(r) {
				break
			}
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				units = append(units, uint16(r1), uint16(r2))
			} else {
				units = append(units, uint16(r))
			}
			j += size
		}
		b.WriteByte('&')
		writeMUTF7Base64(&b, units)
		b.WriteByte('-')
		i = j
	}
	return b.String(), nil
}

func writeMUTF7Base64(b *strings.Builder, units []uint16) {
	var acc uint32
	bits := 0
	for _, u := range units {
		acc = acc<<16 | uint32(u)
		bits += 16
		for bits >= 6 {
			bits -= 6
			b.WriteByte(mutf7Alphabet[(acc>>uint(bits))&0x3f])
		}
	}
	if bits > 0 {
		b.WriteByte(mutf7Alphabet[(acc<<uint(6-bits))&0x3f])
	}
}

// decodeFolderName turns modified UTF-7 back into UTF-8. It is strict: only
// the canonical encoding of a name is accepted (no printable ASCII inside a
// base64 section, no adjacent sections, zero padding bits, paired
// surrogates), so every on-disk name maps to exactly one folder name and
// back, and two directories can never claim the same folder.
func decodeFolderName(enc string) (string, error) {
	var b strings.Builder
	b.Grow(len(enc))
	for i := 0; i < len(enc); {
		c := enc[i]
		if c < 0x20 || c > 0x7e {
			return "", errBadMUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(enc[i+1:], '-')
		if end < 0 {
			return "", errBadMUTF7
		}
		section := enc[i+1 : i+1+end]
		i += end + 2
		if section == "" {
			b.WriteByte('&')
			continue
		}
		if err := decodeMUTF7Section(&b, section); err != nil {
			return "", err
		}
		if i < len(enc) && enc[i] == '&' && i+1 < len(enc) && enc[i+1] != '-' {
			return "", errBadMUTF7
		}
	}
	return b.String(), nil
}

func decodeMUTF7Section(b *strings.Builder, section string) error {
	var acc uint32
	bits := 0
	var high uint16 // pending high surrogate
	for k := 0; k < len(section); k++ {
		v := mutf7Value(section[k])
		if v == 0xff {
			return errBadMUTF7
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits < 16 {
			continue
		}
		bits -= 16
		u := uint16(acc >> uint(bits))
		acc &= 1<<uint(bits) - 1
		switch {
		case high != 0:
			if u < 0xdc00 || u > 0xdfff {
				return errBadMUTF7
			}
			b.WriteRune(utf16.DecodeRune(rune(high), rune(u)))
			high = 0
		case u >= 0xd800 && u <= 0xdbff:
			high = u
		case u >= 0xdc00 && u <= 0xdfff:
			return errBadMUTF7
		case isPrintableASCII(rune(u)):
			return errBadMUTF7
		default:
			b.WriteRune(rune(u))
		}
	}
	// Leftover bits are padding: fewer than one base64 digit's worth
	// and all zero, or the section was not produced by an encoder.
	if high != 0 || bits >= 6 || acc != 0 {
		return errBadMUTF7
	}
	return nil
}
