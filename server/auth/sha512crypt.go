package auth

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt with SHA-512 ("$6$"), written from Ulrich Drepper's
// specification "Unix crypt using SHA-256 and SHA-512" (2008), which glibc,
// libxcrypt and Dovecot's SHA512-CRYPT implement.
const (
	shaCryptPrefix        = "$6$"
	shaCryptRoundsPrefix  = "rounds="
	shaCryptDefaultRounds = 5000
	shaCryptMinRounds     = 1000
	shaCryptMaxRounds     = 999999999
	shaCryptMaxSalt       = 16
	cryptAlphabet         = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

var errBadShaCrypt = errors.New("malformed $6$ hash")

// shaCryptParams is the setting part of a "$6$[rounds=N$]salt$hash" string.
type shaCryptParams struct {
	rounds int
	salt   string
	hash   string // the encoded digest as stored, "" when absent
}

func parseShaCrypt(s string) (shaCryptParams, error) {
	rest, ok := strings.CutPrefix(s, shaCryptPrefix)
	if !ok {
		return shaCryptParams{}, fmt.Errorf("%w: no $6$ prefix", errBadShaCrypt)
	}
	p := shaCryptParams{rounds: shaCryptDefaultRounds}
	if after, ok := strings.CutPrefix(rest, shaCryptRoundsPrefix); ok {
		num, tail, found := strings.Cut(after, "$")
		n, err := strconv.ParseUint(num, 10, 64)
		if !found || err != nil {
			return shaCryptParams{}, fmt.Errorf("%w: bad rounds=", errBadShaCrypt)
		}
		// The specification clamps out-of-range rounds instead of failing.
		p.rounds = int(min(max(n, shaCryptMinRounds), shaCryptMaxRounds))
		rest = tail
	}
	p.salt, p.hash, _ = strings.Cut(rest, "$")
	if len(p.salt) > shaCryptMaxSalt {
		p.salt = p.salt[:shaCryptMaxSalt]
	}
	return p, nil
}

// shaCrypt512 returns the encoded 86-character digest of password with the
// given parameters (steps 1-22 of the specification).
func shaCrypt512(password []byte, p shaCryptParams) string {
	salt := []byte(p.salt)
	keyLen := len(password)

	// Steps 4-8: digest B = H(P S P).
	b := sum512(password, salt, password)

	// Steps 1-3 and 9-12: digest A.
	h := sha512.New()
	h.Write(password)
	h.Write(salt)
	writeRepeated(h, b, keyLen)
	for n := keyLen; n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(password)
		}
	}
	a := h.Sum(nil)

	// Steps 13-16: the P sequence, from DP = H(P repeated len(P) times).
	h.Reset()
	for range keyLen {
		h.Write(password)
	}
	pSeq := repeatTo(h.Sum(nil), keyLen)

	// Steps 17-20: the S sequence, from DS = H(S repeated 16+A[0] times).
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	sSeq := repeatTo(h.Sum(nil), len(salt))

	// Step 21: the rounds.
	c := a
	for i := range p.rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(pSeq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sSeq)
		}
		if i%7 != 0 {
			h.Write(pSeq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pSeq)
		}
		c = h.Sum(c[:0])
	}
	return encodeShaCrypt512(c)
}

func sum512(parts ...[]byte) []byte {
	h := sha512.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// writeRepeated writes n bytes taken cyclically from block.
func writeRepeated(h hash.Hash, block []byte, n int) {
	for ; n > len(block); n -= len(block) {
		h.Write(block)
	}
	h.Write(block[:n])
}

// repeatTo returns n bytes taken cyclically from block.
func repeatTo(block []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, block[:min(len(block), n-len(out))]...)
	}
	return out
}

// encodeShaCrypt512 is step 22: 21 groups of three digest bytes, taken in the
// specification's permuted order, then the last byte, each group written as
// little-endian 6-bit digits of cryptAlphabet.
func encodeShaCrypt512(d []byte) string {
	var sb strings.Builder
	sb.Grow(86)
	for k := range 21 {
		x, y, z := d[k], d[k+21], d[k+42]
		switch k % 3 {
		case 1:
			x, y, z = y, z, x
		case 2:
			x, y, z = z, x, y
		}
		writeCrypt64(&sb, uint32(x)<<16|uint32(y)<<8|uint32(z), 4)
	}
	writeCrypt64(&sb, uint32(d[63]), 2)
	return sb.String()
}

func writeCrypt64(sb *strings.Builder, w uint32, n int) {
	for range n {
		sb.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}
