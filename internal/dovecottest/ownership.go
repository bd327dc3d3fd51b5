package dovecottest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// chownTree gives root and everything below it to uid:gid, without following
// symbolic links. It is needed only when the test runs as root: Dovecot
// accesses mail as an unprivileged user, which must own the files it
// rewrites (dovecot-uidlist, renames in cur/).
func chownTree(root string, uid, gid int) error {
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("dovecottest: chown %s to %d:%d: %w", root, uid, gid, err)
	}
	return nil
}

// searchBits are group and other search permission. Both are needed: the
// mail processes keep root's supplementary group 0 after Dovecot drops to
// the mail uid, so for a root-owned directory the group bits, not the other
// bits, decide ("missing +x perm ... mode=0701" otherwise).
const searchBits = 0o011

// makeReachable lets other users search (not list) the directories above
// dir, so that Dovecot's mail processes, running as another user, can reach
// it. Only directories under allowed (the system temporary directory in
// Start) that belong to us are changed (t.TempDir creates a 0700 parent);
// anything else that blocks the way is an error naming the directory.
func makeReachable(dir, allowed string) error {
	tmp := filepath.Clean(allowed)
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("dovecottest: reach %s: %w", dir, err)
		}
		if fi.Mode().Perm()&searchBits != searchBits {
			if !underDir(p, tmp) || !ownedByUs(fi) {
				return fmt.Errorf("dovecottest: %s (mode %o) blocks Dovecot's mail user from %s; use a directory under %s", p, fi.Mode().Perm(), dir, tmp)
			}
			if err := os.Chmod(p, fi.Mode().Perm()|searchBits); err != nil {
				return fmt.Errorf("dovecottest: reach %s: %w", dir, err)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func underDir(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func ownedByUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
