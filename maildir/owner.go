package maildir

// File ownership. maildird may run as root and serve Maildirs that belong
// to the mail user (DESIGN.md §3): Dovecot, which never accesses mail as
// root, and the user's own tools must still be able to read and rewrite
// everything maildird creates there. So, when the process runs as root,
// every file and directory it creates inside a user's Maildir++ root gets
// the user and group of that root directory. A user root that does not
// exist yet takes them from its nearest existing parent (the domain
// directory, then mail_root), so a mail_root given to the mail user keeps
// new users' Maildirs usable by it as well. Renames and hard links keep
// the inode and so its owner; nothing else needs to change.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// owner is who new files of one user's Maildir belong to. The zero value
// (ok false) leaves them to the process's user: maildird does not run as
// root.
type owner struct {
	uid, gid int
	ok       bool
}

// ownerOf returns the owner for a new file or directory at path, inside
// (or at) a user's Maildir++ root under s.root.
func (s *Store) ownerOf(path string) owner {
	if s.euid != 0 {
		return owner{}
	}
	rel, err := filepath.Rel(s.root, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return owner{}
	}
	parts := strings.SplitN(rel, string(filepath.Separator), 3)
	dir := filepath.Join(s.root, parts[0])
	if len(parts) > 1 {
		dir = filepath.Join(dir, parts[1])
	}
	for {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err == nil {
			return owner{uid: int(st.Uid), gid: int(st.Gid), ok: true}
		}
		if dir == s.root || dir == filepath.Dir(dir) {
			return owner{}
		}
		dir = filepath.Dir(dir)
	}
}

// chown gives path (not following a symbolic link) to o.
func (o owner) chown(path string) error {
	if !o.ok {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// fchown gives an open file to o.
func (o owner) fchown(f *os.File) error {
	if !o.ok {
		return nil
	}
	if err := f.Chown(o.uid, o.gid); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// ownedBy reports whether the file at path belongs to o already.
func (o owner) ownedBy(path string) bool {
	if !o.ok {
		return true
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return false
	}
	return int(st.Uid) == o.uid && int(st.Gid) == o.gid
}

// mkdirAll creates dir and its missing parents (0700), each owned the way
// ownerOf says.
func (s *Store) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("maildir: %s is not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	// Asked before the directory exists: a new user root (or domain
	// directory) takes the owner of the directory above it.
	o := s.ownerOf(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if os.IsExist(err) {
			return nil // made by someone else meanwhile
		}
		return fmt.Errorf("maildir: %w", err)
	}
	return o.chown(dir)
}
