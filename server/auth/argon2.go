package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Limits on parameters read from a stored Argon2id hash. A hash that asks
// for more would let one line in the passwd file exhaust a small machine's
// memory on every login; such a hash is refused instead.
const (
	argon2MaxMemoryKiB = 1 << 20 // 1 GiB
	argon2MaxTime      = 64
	argon2MinKeyLen    = 4
	argon2MaxKeyLen    = 1024
)

// argon2Params is a parsed "$argon2id$v=19$m=65536,t=3,p=1$salt$hash", the
// PHC string format Dovecot (through libsodium) and the argon2 CLI write.
type argon2Params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func verifyArgon2id(hash, password string) (bool, error) {
	p, err := parseArgon2id(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

func parseArgon2id(s string) (argon2Params, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return argon2Params{}, errors.New("not a $argon2id$v=...$m=...,t=...,p=...$salt$hash string")
	}
	if fields[2] != "v=19" {
		return argon2Params{}, fmt.Errorf("unsupported argon2 version %q", fields[2])
	}
	var p argon2Params
	if err := p.parseCosts(fields[3]); err != nil {
		return argon2Params{}, err
	}
	var err error
	if p.salt, err = decodeArgon2Base64(fields[4]); err != nil {
		return argon2Params{}, fmt.Errorf("argon2 salt: %w", err)
	}
	if p.key, err = decodeArgon2Base64(fields[5]); err != nil {
		return argon2Params{}, fmt.Errorf("argon2 hash: %w", err)
	}
	if len(p.key) < argon2MinKeyLen || len(p.key) > argon2MaxKeyLen {
		return argon2Params{}, fmt.Errorf("argon2 hash of %d bytes", len(p.key))
	}
	return p, nil
}

// parseCosts reads "m=65536,t=3,p=1" (this order, as every writer uses).
func (p *argon2Params) parseCosts(s string) error {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return fmt.Errorf("argon2 parameters %q: want m=,t=,p=", s)
	}
	m, err1 := costValue(parts[0], "m=", argon2MaxMemoryKiB)
	t, err2 := costValue(parts[1], "t=", argon2MaxTime)
	threads, err3 := costValue(parts[2], "p=", 255)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("argon2 parameters %q: %w", s, err)
	}
	if m < 8*threads {
		return fmt.Errorf("argon2 parameters %q: m below 8*p", s)
	}
	p.memory, p.time, p.threads = m, t, uint8(threads)
	return nil
}

func costValue(s, prefix string, limit uint32) (uint32, error) {
	num, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("want %s", prefix)
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 || n > uint64(limit) {
		return 0, fmt.Errorf("%s%s: want 1..%d", prefix, num, limit)
	}
	return uint32(n), nil
}

// decodeArgon2Base64 decodes standard base64 without padding, tolerating
// padding that some writers add.
func decodeArgon2Base64(s string) ([]byte, error) {
	return base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}
