package auth

import "fmt"

// changes says which files an update modified and must be written.
type changes struct {
	passwd, aliases bool
}

// update runs a read-modify-write of both files under the data dir lock.
// fn sees the files as they are on disk now (not the cache, which may be
// up to one reload interval old) and reports what it changed.
func (s *Store) update(fn func(pw *passwdFile, al *aliasFile) (changes, error)) error {
	unlock, err := lockDataDir(s.dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	defer s.invalidate()

	pwData, err := readOptional(s.passwdPath())
	if err != nil {
		return err
	}
	alData, err := readOptional(s.aliasPath())
	if err != nil {
		return err
	}
	// Problems were logged when the cache loaded these files; malformed
	// lines are carried over verbatim.
	pw, _ := parsePasswd(pwData)
	al, _ := parseAliases(alData)
	ch, err := fn(pw, al)
	if err != nil {
		return err
	}
	if ch.passwd {
		if err := writeAtomic(s.passwdPath(), pw.bytes()); err != nil {
			return fmt.Errorf("auth: saving users: %w", err)
		}
	}
	if ch.aliases {
		if err := writeAtomic(s.aliasPath(), al.bytes()); err != nil {
			return fmt.Errorf("auth: saving aliases: %w", err)
		}
	}
	return nil
}

// checkNewName normalizes a new user or alias name and checks its domain.
func (s *Store) checkNewName(addr string) (string, error) {
	n, err := normalizeName(addr)
	if err != nil {
		return "", err
	}
	if !s.localDomain(domainOf(n)) {
		return "", fmt.Errorf("auth: %s: %w", n, ErrNotLocalDomain)
	}
	return n, nil
}
