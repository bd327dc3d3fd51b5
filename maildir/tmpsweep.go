package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// tmpMaxAge is how long a file may sit in a folder's tmp/ before it is
// taken for the leftover of a delivery or append that died half-way:
// Dovecot's limit. A writer that is alive keeps a file there for seconds.
const tmpMaxAge = 36 * time.Hour

// sweepTmp removes files of the folder's tmp/ whose inode has not changed
// for tmpMaxAge, as Dovecot does when it opens a mailbox. The change time
// is the one to trust: the mtime of a file being appended is set to its
// INTERNALDATE, which may be years old, and no one can set the ctime back.
// Directories stay (CreateFolder and DeleteFolder sweep their own, see
// sweepTmpLeftovers). Errors only leave files for the next sweep.
func (m *Mailbox) sweepTmp() {
	dir := filepath.Join(m.dir, "tmp")
	names, err := getdentsNames(dir)
	if err != nil {
		return
	}
	cutoff := m.s.now().Add(-tmpMaxAge).UnixNano()
	for _, n := range names {
		path := filepath.Join(dir, n)
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			continue
		}
		if st.Ctim.Nano() >= cutoff {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.s.log.Warn("maildir: removing an old file from tmp/", "path", path, "err", err)
		} else if err == nil {
			m.s.log.Info("maildir: removed an old file from tmp/", "path", path)
		}
	}
}
