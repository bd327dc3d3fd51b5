package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Folder is one entry of a user's folder list.
type Folder struct {
	Name       string     // IMAP name, UTF-8, "/" between levels; INBOX is "INBOX"
	Use        SpecialUse // RFC 6154 role, UseNone for most folders
	Subscribed bool
	// HasChildren: some folder lives below this one.
	HasChildren bool
	// NoSelect: the folder itself does not exist, only folders below it
	// (Maildir++ keeps "a/b/c" in .a.b.c alone, so "a" and "a/b" are
	// implied). IMAP lists it as \Noselect so that clients can show the tree.
	NoSelect bool
}

// maildirfolderName is the empty marker file Maildir++ puts in every folder
// (Dovecot writes it too); tools use it to find the quota file one level up.
const maildirfolderName = "maildirfolder"

// tmpLeftoverPrefix names the directories this package builds or tears down
// inside a user's tmp/; leftovers after a crash are swept after
// tmpLeftoverAge. tmp/ is the place for them because neither this package
// nor Dovecot ever lists anything in it as a folder.
const (
	tmpLeftoverPrefix = ".maildird-folder-"
	tmpLeftoverAge    = time.Hour
)

// Folders lists addr's folders: INBOX first, then by name, including the
// implied parents of nested folders. The user's Maildir is created on first
// use, so a new user has an INBOX at once.
func (s *Store) Folders(addr string) ([]Folder, error) {
	root, err := s.ensureUserRoot(addr)
	if err != nil {
		return nil, err
	}
	names, err := listFolderNames(root)
	if err != nil {
		return nil, err
	}
	subs, err := readSubscriptions(root)
	if err != nil {
		return nil, err
	}
	subscribed := make(map[string]bool, len(subs))
	for _, e := range subs {
		if e.name != "" {
			subscribed[e.name] = true
		}
	}
	exists := make(map[string]bool, len(names)+1)
	exists[inboxName] = true
	all := map[string]bool{inboxName: true}
	for _, n := range names {
		exists[n] = true
		all[n] = true
		for i := strings.LastIndexByte(n, '/'); i > 0; i = strings.LastIndexByte(n[:i], '/') {
			all[n[:i]] = true
		}
	}
	sorted := make([]string, 0, len(all))
	for n := range all {
		if n != inboxName {
			sorted = append(sorted, n)
		}
	}
	slices.Sort(sorted)
	sorted = slices.Insert(sorted, 0, inboxName)
	folders := make([]Folder, len(sorted))
	for i, n := range sorted {
		folders[i] = Folder{
			Name:       n,
			Use:        specialUseOf(n),
			Subscribed: subscribed[n],
			NoSelect:   !exists[n],
		}
	}
	// Sorted by name, a folder's children follow it after its siblings
	// that sort before "/" (" ", "!", ...), so look ahead for the prefix.
	for i := range folders {
		prefix := folders[i].Name + "/"
		for j := i + 1; j < len(folders); j++ {
			if strings.HasPrefix(folders[j].Name, prefix) {
				folders[i].HasChildren = true
				break
			}
			if folders[j].Name > prefix {
				break
			}
		}
	}
	return folders, nil
}

// listFolderNames returns the names of the folder directories in root,
// unsorted, INBOX excluded.
func listFolderNames(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("maildir: listing folders: %w", err)
	}
	var names []string
	for _, e := range entries {
		name, ok := folderNameFromDir(e.Name())
		if !ok || !isDirEntry(root, e) {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}

// isDirEntry also accepts a symbolic link to a directory: administrators
// link shared folders into a Maildir, and Dovecot lists those too.
func isDirEntry(parent string, e fs.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(filepath.Join(parent, e.Name()))
	return err == nil && fi.IsDir()
}

// CreateFolder creates a folder. Its parents are implied, not created, as
// Dovecot does. The folder is built in tmp/ and renamed into place, so it
// appears complete (cur/ new/ tmp/ maildirfolder) or not at all.
func (s *Store) CreateFolder(addr, name string) error {
	dir, err := s.folderDir(addr, name)
	if err != nil {
		return err
	}
	root, err := s.ensureUserRoot(addr)
	if err != nil {
		return err
	}
	if dir == root {
		return fmt.Errorf("%w: INBOX", ErrFolderExists)
	}
	return s.createFolderDir(root, dir)
}

func (s *Store) createFolderDir(root, dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%w: %s", ErrFolderExists, filepath.Base(dir))
	}
	sweepTmpLeftovers(root)
	tmp, err := tmpLeftoverDir(root)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	o := s.ownerOf(root)
	if err := ensureMaildir(tmp, o); err != nil {
		return err
	}
	if err := writeEmptyFile(filepath.Join(tmp, maildirfolderName), o); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	// rename(2) replaces an empty directory but fails on a non-empty one;
	// a folder that appeared since the Lstat above always has cur/ new/ tmp/.
	if err := os.Rename(tmp, dir); err != nil {
		if errors.Is(err, fs.ErrExist) || isNotEmpty(err) {
			return fmt.Errorf("%w: %s", ErrFolderExists, filepath.Base(dir))
		}
		return fmt.Errorf("maildir: creating folder: %w", err)
	}
	return errors.Join(syncDir(root), syncDir(filepath.Join(root, "tmp")))
}

func writeEmptyFile(path string, o owner) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := o.fchown(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// tmpLeftoverDir returns a new unique path in root's tmp/ (not created).
func tmpLeftoverDir(root string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("maildir: %w", err)
	}
	return filepath.Join(root, "tmp", tmpLeftoverPrefix+hex.EncodeToString(b[:])), nil
}

// sweepTmpLeftovers removes folder directories a crash left in tmp/. Only
// old ones: a young one may belong to a create or delete in progress.
// Failures are ignored; the next sweep tries again.
func sweepTmpLeftovers(root string) {
	tmp := filepath.Join(root, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tmpLeftoverPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > tmpLeftoverAge {
			os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
}

func isNotEmpty(err error) bool { return errors.Is(err, syscall.ENOTEMPTY) }

// DeleteFolder deletes one folder and its messages. Folders below it stay
// (IMAP semantics, and what Dovecot does); the deleted one then shows as an
// implied parent. Subscriptions are kept, as RFC 3501 §6.3.9 requires
// (a client unsubscribes itself). The directory is first renamed into tmp/,
// so a crash cannot leave a half-deleted folder visible.
func (s *Store) DeleteFolder(addr, name string) error {
	dir, err := s.folderDir(addr, name)
	if err != nil {
		return err
	}
	root, err := s.userRoot(addr)
	if err != nil {
		return err
	}
	if dir == root {
		return ErrInbox
	}
	// Stat, not Lstat: a symbolic link to a folder is listed as a folder,
	// so it can be deleted as one (the link goes, not its target).
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: %s", ErrNoSuchFolder, name)
	}
	linked := false
	if lfi, err := os.Lstat(dir); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		linked = true
	}
	sweepTmpLeftovers(root)
	tmp, err := tmpLeftoverDir(root)
	if err != nil {
		return err
	}
	if err := os.Rename(dir, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNoSuchFolder, name)
		}
		return fmt.Errorf("maildir: deleting folder: %w", err)
	}
	if err := syncDir(root); err != nil {
		return err
	}
	if !linked {
		// The folder's messages no longer count against the quota.
		size, n, err := maildirUsage(tmp)
		if err == nil {
			err = s.addUsage(addr, -size, -n)
		}
		if err != nil {
			s.log.Warn("maildir: quota update", "addr", addr, "err", err)
		}
	}
	if err := os.RemoveAll(tmp); err != nil {
		// The folder is gone for every reader already; the sweep
		// finishes the removal later.
		s.log.Warn("maildir: removing deleted folder", "dir", tmp, "err", err)
	}
	return nil
}

// RenameFolder renames a folder together with every folder below it, and
// moves their subscriptions along (as Dovecot does). Renaming INBOX is
// special (RFC 3501 §6.3.5): its messages move into a new folder and INBOX
// stays, empty; folders below INBOX are not touched.
func (s *Store) RenameFolder(addr, from, to string) error {
	fromDir, err := s.folderDir(addr, from)
	if err != nil {
		return err
	}
	toDir, err := s.folderDir(addr, to)
	if err != nil {
		return err
	}
	root, err := s.ensureUserRoot(addr)
	if err != nil {
		return err
	}
	if toDir == root {
		return fmt.Errorf("%w: INBOX", ErrFolderExists)
	}
	if fromDir == root {
		return s.renameInbox(root, toDir)
	}
	cf, _ := canonicalFolderName(from)
	ct, _ := canonicalFolderName(to)
	if cf == ct {
		return fmt.Errorf("%w: %s", ErrFolderExists, to)
	}
	if strings.HasPrefix(ct, cf+"/") {
		return fmt.Errorf("%w: cannot move %q below itself", ErrBadFolderName, from)
	}
	moves, err := renamePlan(root, cf, ct)
	if err != nil {
		return err
	}
	for _, m := range moves {
		if err := os.Rename(m.from, m.to); err != nil {
			if errors.Is(err, fs.ErrExist) || isNotEmpty(err) {
				return fmt.Errorf("%w: %s", ErrFolderExists, filepath.Base(m.to))
			}
			return fmt.Errorf("maildir: renaming folder: %w", err)
		}
	}
	if err := syncDir(root); err != nil {
		return err
	}
	return s.renameSubscriptions(root, cf, ct)
}

type dirMove struct{ from, to string }

// renamePlan lists the directory renames for moving folder cf (if it
// exists) and everything below it to ct, checked in full before anything
// moves: every new name must be valid and free.
func renamePlan(root, cf, ct string) ([]dirMove, error) {
	names, err := listFolderNames(root)
	if err != nil {
		return nil, err
	}
	slices.Sort(names) // a parent before its children
	var moves []dirMove
	for _, n := range names {
		if n != cf && !strings.HasPrefix(n, cf+"/") {
			continue
		}
		oldDN, err := folderDirName(n)
		if err != nil {
			return nil, err
		}
		newDN, err := folderDirName(ct + n[len(cf):])
		if err != nil {
			return nil, err
		}
		to := filepath.Join(root, newDN)
		if _, err := os.Lstat(to); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrFolderExists, ct+n[len(cf):])
		}
		moves = append(moves, dirMove{filepath.Join(root, oldDN), to})
	}
	if len(moves) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchFolder, cf)
	}
	return moves, nil
}

// renameInbox creates the target folder and moves every INBOX message into
// it. The keyword table goes along, so the keyword letters in the moved
// file names keep their meaning; UIDs do not (the new folder numbers them
// afresh, as a new mailbox must).
func (s *Store) renameInbox(root, toDir string) error {
	if err := s.createFolderDir(root, toDir); err != nil {
		return err
	}
	if err := copyFileAtomic(filepath.Join(root, "dovecot-keywords"), filepath.Join(toDir, "dovecot-keywords"), s.ownerOf(toDir)); err != nil {
		return err
	}
	for _, sub := range [...]string{"new", "cur"} {
		src, dst := filepath.Join(root, sub), filepath.Join(toDir, sub)
		entries, err := os.ReadDir(src)
		if err != nil {
			return fmt.Errorf("maildir: renaming INBOX: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			if err != nil && !errors.Is(err, fs.ErrNotExist) { // gone: expunged meanwhile
				return fmt.Errorf("maildir: renaming INBOX: %w", err)
			}
		}
		if err := errors.Join(syncDir(dst), syncDir(src)); err != nil {
			return err
		}
	}
	return nil
}

// copyFileAtomic copies src to dst if src exists.
func copyFileAtomic(src, dst string, o owner) error {
	f, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	defer f.Close()
	return writeFileAtomic(dst, 0o600, o, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}
