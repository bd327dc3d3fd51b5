package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Verify checks a login. It returns the canonical user address, or
// ErrBadCredentials for an unknown user, a wrong or empty password, or a
// hash that cannot be used; an unknown user costs the same bcrypt work as a
// known one, so response times do not reveal which users exist. Aliases
// cannot log in. A "+tag" is ignored like in Lookup.
func (s *Store) Verify(address, password string) (string, error) {
	user, _, err := s.verify(address, password)
	return user, err
}

// verify is Verify plus the reason for a failure, for logging only: the
// reason says whether the user exists, so it must not reach the client.
func (s *Store) verify(address, password string) (user, reason string, err error) {
	addr, err := Normalize(address)
	if err != nil {
		s.burn(password)
		return "", "malformed user name", ErrBadCredentials
	}
	snap, err := s.current()
	if err != nil {
		return "", "user database unavailable", fmt.Errorf("auth: verify: %w", err)
	}
	user, ok := resolveUser(snap, addr)
	if !ok {
		s.burn(password)
		return "", "no such user", ErrBadCredentials
	}
	if password == "" {
		s.burn(password)
		return "", "empty password", ErrBadCredentials
	}
	line, _ := snap.passwd.lookup(user)
	err = verifyHash(line.hash, password)
	switch {
	case err == nil:
		return user, "", nil
	case errors.Is(err, errNoMatch):
		return "", "wrong password", ErrBadCredentials
	default:
		s.log.Warn("auth: stored password hash unusable, login refused", "user", user, "file", s.passwdPath(), "reason", err.Error())
		return "", "unusable password hash: " + err.Error(), ErrBadCredentials
	}
}

// burn does the work of one bcrypt verification at the store's cost.
func (s *Store) burn(password string) {
	s.dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte("maildird timing equalizer"), s.cost)
		if err != nil {
			s.log.Error("auth: making the timing dummy hash", "err", err)
			return
		}
		s.dummyHash = string(h)
	})
	if s.dummyHash != "" {
		_ = bcrypt.CompareHashAndPassword([]byte(s.dummyHash), []byte(password))
	}
}
