package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes is the longest file name Linux file systems accept (NAME_MAX).
// A longer address or folder name could never be created, so it is refused
// up front with a clear error instead of a confusing ENAMETOOLONG later.
const maxNameBytes = 255

// inboxName is how INBOX is spelled in every name this package returns;
// IMAP matches it case-insensitively (RFC 3501 §5.1).
const inboxName = "INBOX"

// trashDirName is where a deleted folder is renamed before it is removed,
// so that a crash never leaves half a folder visible. It is Dovecot's name
// for the same purpose, which Dovecot also never lists as a folder.
const trashDirName = ".DOVECOT-TRASH"

// userRoot returns <root>/<domain>/<localpart>, the Maildir++ root (INBOX)
// of addr. Each part becomes one directory name, so anything that could
// make it a different directory ("..", "/", a hidden name) or an unusable
// one (NUL, control characters, invalid UTF-8, too long) is refused. The
// domain is lowercased: domains are case-insensitive, and one mailbox must
// not be split over two directories because of a capital letter.
func (s *Store) userRoot(addr string) (string, error) {
	if len(addr) > maxNameBytes {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadAddress, maxNameBytes)
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || strings.Contains(domain, "@") {
		return "", fmt.Errorf("%w: %q is not local@domain", ErrBadAddress, addr)
	}
	domain = asciiLower(domain)
	for _, part := range []string{local, domain} {
		if !validAddressPart(part) {
			return "", fmt.Errorf("%w: %q", ErrBadAddress, addr)
		}
	}
	return filepath.Join(s.root, domain, local), nil
}

func validAddressPart(p string) bool {
	if p == "" || p[0] == '.' || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// asciiLower lowercases A-Z only, so that a UTF-8 domain keeps its bytes
// (Unicode case mapping could change lengths and is not what DNS does).
func asciiLower(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' }) < 0 {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// canonicalFolderName validates an IMAP folder name ("/" as the hierarchy
// separator, UTF-8) and returns it with INBOX spelled in capitals, also as
// the first level of a child ("inbox/x" is "INBOX/x"), so that one folder
// has one name and one directory.
//
// Refused: an empty name or segment (which also covers a leading, trailing
// or doubled "/"), "." anywhere (it is the on-disk separator, so "a.b"
// would silently become "a/b"; Dovecot 2.3 refuses it too, and it rules
// out "." and ".." segments), "\", control characters (NUL included) and
// invalid UTF-8.
func canonicalFolderName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrBadFolderName)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrBadFolderName)
	}
	for _, r := range name {
		if r == '.' || r == '\\' || unicode.IsControl(r) {
			return "", fmt.Errorf("%w: character %q not allowed", ErrBadFolderName, r)
		}
	}
	first, rest, hasRest := strings.Cut(name, "/")
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" {
			return "", fmt.Errorf("%w: empty level in %q", ErrBadFolderName, name)
		}
	}
	if strings.EqualFold(first, inboxName) {
		if !hasRest {
			return inboxName, nil
		}
		return inboxName + "/" + rest, nil
	}
	return name, nil
}

// folderDirName is the directory name of a canonical folder other than
// INBOX: "." then each level in modified UTF-7, joined by ".". It must fit
// in one directory entry.
func folderDirName(canon string) (string, error) {
	var b strings.Builder
	for seg := range strings.SplitSeq(canon, "/") {
		enc, err := encodeFolderName(seg)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadFolderName, err)
		}
		b.WriteByte('.')
		b.WriteString(enc)
	}
	if b.String() == trashDirName {
		return "", fmt.Errorf("%w: reserved name", ErrBadFolderName)
	}
	if b.Len() > maxNameBytes {
		return "", fmt.Errorf("%w: longer than %d bytes on disk", ErrBadFolderName, maxNameBytes)
	}
	return b.String(), nil
}

// folderNameFromDir is the inverse of folderDirName for a directory entry of
// a user root. It reports false for anything that is not a folder this
// package could have created (not starting with ".", empty levels, invalid
// or non-canonical modified UTF-7, characters folder names may not hold),
// so such entries are never listed nor reachable.
func folderNameFromDir(dirName string) (string, bool) {
	if len(dirName) < 2 || dirName[0] != '.' || dirName == trashDirName {
		return "", false
	}
	segs := strings.Split(dirName[1:], ".")
	for i, seg := range segs {
		dec, err := decodeFolderName(seg)
		if err != nil || dec == "" {
			return "", false
		}
		segs[i] = dec
	}
	name := strings.Join(segs, "/")
	canon, err := canonicalFolderName(name)
	if err != nil || canon != name || canon == inboxName {
		return "", false
	}
	return name, true
}

// folderDir maps a folder name to its directory: the user root for INBOX,
// <userRoot>/.<a>.<b> for "a/b". The result is always a direct child of the
// user root (or the root itself); that is checked once more after building
// it, so no name can ever reach outside the user's Maildir.
func (s *Store) folderDir(addr, name string) (string, error) {
	root, err := s.userRoot(addr)
	if err != nil {
		return "", err
	}
	canon, err := canonicalFolderName(name)
	if err != nil {
		return "", err
	}
	if canon == inboxName {
		return root, nil
	}
	dn, err := folderDirName(canon)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, dn)
	if filepath.Dir(dir) != root || filepath.Base(dir) != dn {
		return "", fmt.Errorf("%w: %q", ErrBadFolderName, name)
	}
	return dir, nil
}

// maildirSubdirs are the directories every Maildir (INBOX and each folder)
// holds.
var maildirSubdirs = [...]string{"cur", "new", "tmp"}

// ensureMaildir creates dir and its cur/, new/ and tmp/ when missing, and
// makes the new entries durable. It also repairs a folder whose creation was
// cut short by a crash. What it creates belongs to o.
func ensureMaildir(dir string, o owner) error {
	created := false
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
		if err := o.chown(dir); err != nil {
			return err
		}
	}
	for _, sub := range maildirSubdirs {
		err := os.Mkdir(filepath.Join(dir, sub), 0o700)
		if err == nil {
			created = true
			err = o.chown(filepath.Join(dir, sub))
		}
		if err != nil && !os.IsExist(err) {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	if created {
		return syncDir(dir)
	}
	return nil
}

// ensureUserRoot returns the user root of addr, creating it as an empty
// INBOX on first use.
func (s *Store) ensureUserRoot(addr string) (string, error) {
	root, err := s.userRoot(addr)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(filepath.Join(root, "cur")); err == nil && fi.IsDir() {
		return root, nil
	}
	// Level by level, so that each new directory gets its owner.
	if err := s.mkdirAll(root); err != nil {
		return "", err
	}
	if err := ensureMaildir(root, s.ownerOf(root)); err != nil {
		return "", err
	}
	// The domain and user directories may be new too.
	if err := syncDir(filepath.Dir(root)); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(filepath.Dir(root))); err != nil {
		return "", err
	}
	return root, nil
}
