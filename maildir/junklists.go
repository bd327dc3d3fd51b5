package maildir

// Junk lists. The Spam button of every mail app only moves a message to
// Junk; the user expects the server to learn from it. Each user has two
// small plain-text files in their Maildir++ root, one entry per line, an
// address or a whole domain as "@domain", editable by hand:
//
//	maildird-blocklist   senders whose mail goes to Junk
//	maildird-allowlist   senders whose mail always reaches INBOX
//
// Blank lines and lines starting with '#' are kept as they are. Changes
// are made under an flock on maildird-lists.lock and written atomically,
// so concurrent moves and deliveries never corrupt them; readers need no
// lock.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// JunkList names one of a user's two lists.
type JunkList string

// The two lists.
const (
	Blocklist JunkList = "block"
	Allowlist JunkList = "allow"
)

const (
	blocklistFile = "maildird-blocklist"
	allowlistFile = "maildird-allowlist"
	listsLockFile = "maildird-lists.lock"
	// maxListBytes bounds what is read of a list: a hand-edited file gone
	// wrong must not take a router's memory.
	maxListBytes = 1 << 20
)

// ErrBadListEntry is an entry that is neither an address nor "@domain".
var ErrBadListEntry = errors.New("maildir: bad junk list entry (want user@domain or @domain)")

func (l JunkList) file() (string, error) {
	switch l {
	case Blocklist:
		return blocklistFile, nil
	case Allowlist:
		return allowlistFile, nil
	}
	return "", fmt.Errorf("maildir: unknown junk list %q", l)
}

// normalizeListEntry lower-cases an address or "@domain" and checks its
// shape: one '@', a non-empty domain with a dot or "localhost", no spaces.
func normalizeListEntry(e string) (string, error) {
	e = strings.ToLower(strings.TrimSpace(e))
	e = strings.TrimSuffix(strings.TrimPrefix(e, "<"), ">")
	local, domain, ok := strings.Cut(e, "@")
	if !ok || domain == "" || strings.ContainsAny(domain, "@ \t/") || strings.ContainsAny(local, " \t\x00") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", fmt.Errorf("%w: %q", ErrBadListEntry, e)
	}
	return e, nil
}

// JunkEntries returns the entries of one of addr's lists, normalized.
// A missing file is an empty list.
func (s *Store) JunkEntries(addr string, list JunkList) ([]string, error) {
	root, err := s.userRoot(addr)
	if err != nil {
		return nil, err
	}
	name, err := list.file()
	if err != nil {
		return nil, err
	}
	lines, err := readListLines(filepath.Join(root, name))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range lines {
		if e, ok := listEntry(l); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// listEntry returns the entry a line holds, if any.
func listEntry(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return "", false
	}
	e, err := normalizeListEntry(t)
	return e, err == nil
}

func readListLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(f, maxListBytes))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("maildir: reading %s: %w", path, err)
	}
	return lines, nil
}

// AddJunkEntry puts entry on list (and takes it off the other list, so
// the latest decision wins). It reports whether anything changed.
func (s *Store) AddJunkEntry(addr string, list JunkList, entry string) (bool, error) {
	other := Allowlist
	if list == Allowlist {
		other = Blocklist
	}
	return s.editLists(addr, entry, map[JunkList]bool{list: true, other: false})
}

// RemoveJunkEntry takes entry off list. It reports whether it was there.
func (s *Store) RemoveJunkEntry(addr string, list JunkList, entry string) (bool, error) {
	return s.editLists(addr, entry, map[JunkList]bool{list: false})
}

// editLists sets entry's presence on each list in want, under the lists
// lock, rewriting only the files that change.
func (s *Store) editLists(addr, entry string, want map[JunkList]bool) (bool, error) {
	e, err := normalizeListEntry(entry)
	if err != nil {
		return false, err
	}
	root, err := s.ensureUserRoot(addr)
	if err != nil {
		return false, err
	}
	unlock, err := s.lockLists(root)
	if err != nil {
		return false, err
	}
	defer unlock()
	changed := false
	for _, list := range []JunkList{Blocklist, Allowlist} {
		present, ok := want[list]
		if !ok {
			continue
		}
		name, _ := list.file()
		path := filepath.Join(root, name)
		lines, err := readListLines(path)
		if err != nil {
			return changed, err
		}
		idx := slices.IndexFunc(lines, func(l string) bool { le, ok := listEntry(l); return ok && le == e })
		switch {
		case present && idx < 0:
			lines = append(lines, e)
		case !present && idx >= 0:
			lines = slices.DeleteFunc(lines, func(l string) bool { le, ok := listEntry(l); return ok && le == e })
		default:
			continue
		}
		var buf bytes.Buffer
		for _, l := range lines {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		if err := writeFileAtomic(path, 0o600, s.ownerOf(path), func(w io.Writer) error {
			_, err := w.Write(buf.Bytes())
			return err
		}); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// lockLists takes the user's lists lock; the flock dies with the process,
// so a crash never leaves it held.
func (s *Store) lockLists(root string) (func(), error) {
	path := filepath.Join(root, listsLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	s.ownerOf(path).fchown(f)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("maildir: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// JunkVerdict says where mail from sender should go for addr: true when
// the sender (or its domain) is blocklisted and neither is allowlisted.
// An empty or malformed sender is never junk by list.
func (s *Store) JunkVerdict(addr, sender string) (bool, error) {
	e, err := normalizeListEntry(sender)
	if err != nil || strings.HasPrefix(e, "@") {
		return false, nil
	}
	_, domain, _ := strings.Cut(e, "@")
	match := func(list JunkList) (bool, error) {
		entries, err := s.JunkEntries(addr, list)
		if err != nil {
			return false, err
		}
		return slices.Contains(entries, e) || slices.Contains(entries, "@"+domain), nil
	}
	allowed, err := match(Allowlist)
	if err != nil || allowed {
		return false, err
	}
	return match(Blocklist)
}
