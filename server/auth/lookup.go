package auth

import (
	"fmt"
)

// Lookup returns where mail to address is delivered: [user] for a user, the
// targets of an alias (local users and remote forwarding addresses). A
// "+tag" is ignored unless the tagged address itself exists. Alias targets
// that are aliases are expanded one level, no further, so loops end;
// targets in a local domain that are not users are skipped. The result has
// no duplicates. ErrNoSuchUser when nothing deliverable is found.
func (s *Store) Lookup(address string) ([]string, error) {
	addr, err := Normalize(address)
	if err != nil {
		return nil, err
	}
	snap, err := s.current()
	if err != nil {
		return nil, err
	}
	for _, a := range candidates(addr) {
		if _, ok := snap.passwd.lookup(a); ok {
			return []string{a}, nil
		}
		if targets, ok := snap.aliases.lookup(a); ok {
			return s.expand(snap, a, targets)
		}
	}
	return nil, fmt.Errorf("auth: %s: %w", addr, ErrNoSuchUser)
}

// candidates lists the names to try for addr: itself, then without tag.
func candidates(addr string) []string {
	if s := stripTag(addr); s != addr {
		return []string{addr, s}
	}
	return []string{addr}
}

func (s *Store) expand(snap snapshot, alias string, targets []string) ([]string, error) {
	var out []string
	seen := make(map[string]bool)
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, t := range targets {
		if user, ok := resolveUser(snap, t); ok {
			add(user)
			continue
		}
		if inner, ok := resolveAlias(snap, t); ok {
			for _, it := range inner {
				if user, ok := resolveUser(snap, it); ok {
					add(user)
				} else if s.keepRemote(snap, alias, it) {
					add(it)
				}
			}
			continue
		}
		if s.keepRemote(snap, alias, t) {
			add(t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("auth: alias %s has no deliverable targets: %w", alias, ErrNoSuchUser)
	}
	return out, nil
}

// resolveUser returns the user addr names, trying it with and without tag.
func resolveUser(snap snapshot, addr string) (string, bool) {
	for _, a := range candidates(addr) {
		if _, ok := snap.passwd.lookup(a); ok {
			return a, true
		}
	}
	return "", false
}

func resolveAlias(snap snapshot, addr string) ([]string, bool) {
	for _, a := range candidates(addr) {
		if targets, ok := snap.aliases.lookup(a); ok {
			return targets, true
		}
	}
	return nil, false
}

// keepRemote reports whether a target that is not a user should be
// delivered to as a remote address. Local targets are dropped: deleted
// users, and aliases two levels deep (which is how loops end).
func (s *Store) keepRemote(snap snapshot, alias, target string) bool {
	if !s.isLocalTarget(snap, target) {
		return true
	}
	s.log.Debug("auth: alias target skipped: not a user", "alias", alias, "target", target)
	return false
}
