package auth

import (
	"fmt"
)

// AddUser creates a user with a new bcrypt hash of password. The address
// may not contain '+', must be in a local domain (when Options.Domains is
// set) and must not already be a user or an alias.
func (s *Store) AddUser(address, password string) error {
	user, err := s.checkNewName(address)
	if err != nil {
		return err
	}
	// Hash outside the lock: bcrypt takes long on a small board, and other
	// writers should not wait for it.
	hash, err := hashPassword(password, s.cost)
	if err != nil {
		return err
	}
	return s.update(func(pw *passwdFile, al *aliasFile) (changes, error) {
		if _, ok := pw.lookup(user); ok {
			return changes{}, fmt.Errorf("auth: %s: %w", user, ErrUserExists)
		}
		if _, ok := al.lookup(user); ok {
			return changes{}, fmt.Errorf("auth: %s is an alias: %w", user, ErrAliasExists)
		}
		pw.add(user, hash)
		return changes{passwd: true}, nil
	})
}

// DeleteUser removes the user. Aliases that name the user are left as they
// are: Lookup skips targets that are no longer users (see the package
// documentation). The user's mail is not touched.
func (s *Store) DeleteUser(address string) error {
	user, err := Normalize(address)
	if err != nil {
		return err
	}
	return s.update(func(pw *passwdFile, _ *aliasFile) (changes, error) {
		if !pw.remove(user) {
			return changes{}, fmt.Errorf("auth: %s: %w", user, ErrNoSuchUser)
		}
		return changes{passwd: true}, nil
	})
}

// SetPassword replaces the user's hash with a new bcrypt hash, keeping any
// extra Dovecot fields on the line.
func (s *Store) SetPassword(address, password string) error {
	user, err := Normalize(address)
	if err != nil {
		return err
	}
	hash, err := hashPassword(password, s.cost)
	if err != nil {
		return err
	}
	return s.update(func(pw *passwdFile, _ *aliasFile) (changes, error) {
		if !pw.setHash(user, hash) {
			return changes{}, fmt.Errorf("auth: %s: %w", user, ErrNoSuchUser)
		}
		return changes{passwd: true}, nil
	})
}
