package auth

import (
	"fmt"
)

// AddAlias creates alias with the given targets. Targets are addresses of
// local users or aliases, or remote addresses mail is forwarded to. A target
// in a local domain must exist already, which catches typos. The alias may
// not be a user, may not contain '+', and may not point at itself.
func (s *Store) AddAlias(alias string, targets []string) error {
	address, err := s.checkNewName(alias)
	if err != nil {
		return err
	}
	list, err := normalizeTargets(address, targets)
	if err != nil {
		return err
	}
	return s.update(func(pw *passwdFile, al *aliasFile) (changes, error) {
		if _, ok := al.lookup(address); ok {
			return changes{}, fmt.Errorf("auth: %s: %w", address, ErrAliasExists)
		}
		if _, ok := pw.lookup(address); ok {
			return changes{}, fmt.Errorf("auth: alias %s is a user: %w", address, ErrUserExists)
		}
		snap := snapshot{passwd: pw, aliases: al}
		for _, t := range list {
			if s.isLocalTarget(snap, t) && !existsLocally(snap, t) {
				return changes{}, fmt.Errorf("auth: alias %s: target %s is in a local domain but not a user or alias: %w", address, t, ErrNoSuchUser)
			}
		}
		al.add(address, list)
		return changes{aliases: true}, nil
	})
}

func normalizeTargets(address string, targets []string) ([]string, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("auth: alias %s: no targets: %w", address, ErrBadAddress)
	}
	var list []string
	seen := make(map[string]bool)
	for _, t := range targets {
		n, err := Normalize(t)
		if err != nil {
			return nil, fmt.Errorf("auth: alias %s: target: %w", address, err)
		}
		if n == address || stripTag(n) == address {
			return nil, fmt.Errorf("auth: alias %s points at itself: %w", address, ErrBadAddress)
		}
		if !seen[n] {
			seen[n] = true
			list = append(list, n)
		}
	}
	return list, nil
}

// existsLocally reports whether addr, or addr without its tag, is a user
// or an alias.
func existsLocally(snap snapshot, addr string) bool {
	for _, a := range []string{addr, stripTag(addr)} {
		if _, ok := snap.passwd.lookup(a); ok {
			return true
		}
		if _, ok := snap.aliases.lookup(a); ok {
			return true
		}
	}
	return false
}

// DeleteAlias removes the alias.
func (s *Store) DeleteAlias(alias string) error {
	address, err := Normalize(alias)
	if err != nil {
		return err
	}
	return s.update(func(_ *passwdFile, al *aliasFile) (changes, error) {
		if !al.remove(address) {
			return changes{}, fmt.Errorf("auth: %s: %w", address, ErrNoSuchAlias)
		}
		return changes{aliases: true}, nil
	})
}
