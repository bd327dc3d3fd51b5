package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Scheme names as Dovecot writes them in front of a hash: "{BLF-CRYPT}$2y$...".
const (
	schemeBlfCrypt    = "BLF-CRYPT"
	schemeSha512Crypt = "SHA512-CRYPT"
	schemeArgon2id    = "ARGON2ID"

	defaultBcryptCost = 10
)

// errNoMatch is the verdict for a well-formed hash that the password does
// not match; every other verifyHash error explains why the hash itself is
// unusable.
var errNoMatch = errors.New("password does not match")

// hashPassword returns a new "{BLF-CRYPT}$2y$..." string for password.
func hashPassword(password string, cost int) (string, error) {
	if password == "" {
		return "", fmt.Errorf("auth: %w", ErrEmptyPassword)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("auth: hashing password: %w", err)
	}
	// x/crypto writes "$2a$"; Dovecot writes "$2y$" (the same algorithm).
	// Write what Dovecot writes so the file can go back to Dovecot untouched.
	s := string(h)
	if rest, ok := strings.CutPrefix(s, "$2a$"); ok {
		s = "$2y$" + rest
	}
	return "{" + schemeBlfCrypt + "}" + s, nil
}

// verifyHash reports nil when password matches stored, errNoMatch when it
// does not, and another error when stored cannot be used at all (unknown or
// missing scheme, malformed hash).
func verifyHash(stored, password string) error {
	scheme, hash, err := splitScheme(stored)
	if err != nil {
		return err
	}
	var ok bool
	switch scheme {
	case schemeBlfCrypt:
		ok, err = verifyBcrypt(hash, password)
	case schemeSha512Crypt:
		ok, err = verifyShaCrypt(hash, password)
	case schemeArgon2id:
		ok, err = verifyArgon2id(hash, password)
	default:
		return fmt.Errorf("unsupported password scheme {%s}", scheme)
	}
	if err != nil {
		return fmt.Errorf("{%s} hash: %w", scheme, err)
	}
	if !ok {
		return errNoMatch
	}
	return nil
}

// splitScheme splits "{SCHEME}hash". Dovecot treats scheme names case
// insensitively, so they are upper-cased here.
func splitScheme(stored string) (scheme, hash string, err error) {
	if stored == "" {
		return "", "", errors.New("no password hash set")
	}
	rest, ok := strings.CutPrefix(stored, "{")
	if !ok {
		// Never fall back to comparing as plain text.
		return "", "", errors.New("hash has no {SCHEME} prefix")
	}
	scheme, hash, ok = strings.Cut(rest, "}")
	if !ok || scheme == "" {
		return "", "", errors.New("malformed {SCHEME} prefix")
	}
	return strings.ToUpper(scheme), hash, nil
}

func verifyBcrypt(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
	default:
		return false, errors.New("not a $2a$, $2b$ or $2y$ bcrypt hash")
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, err
	}
}

func verifyShaCrypt(hash, password string) (bool, error) {
	p, err := parseShaCrypt(hash)
	if err != nil {
		return false, err
	}
	if len(p.hash) != 86 {
		return false, fmt.Errorf("%w: digest is not 86 characters", errBadShaCrypt)
	}
	got := shaCrypt512([]byte(password), p)
	return subtle.ConstantTimeCompare([]byte(got), []byte(p.hash)) == 1, nil
}
