package maildir

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// As root, everything created in a Maildir belongs to the Maildir's owner,
// and a new user's Maildir to the owner of the mail root above it.
func TestNewFilesBelongToTheMaildirOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	s, _ := newBoxStore(t)
	s.indexMin = 1
	if err := os.Chown(s.root, uid, gid); err != nil {
		t.Fatal(err)
	}
	dir := boxInboxDir(t, s)
	for i := 0; i < 3; i++ {
		boxDeliver(t, s, "", "Subject: x\n\nbody\n")
	}
	m := boxOpen(t, s, "INBOX")
	if err := m.StoreFlags([]uint32{1}, FlagsAdd, FlagSeen, []string{"Work"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Summary(2); err != nil {
		t.Fatal(err)
	}
	lock, err := s.lockFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, uidlistLockName), &st); err != nil || int(st.Uid) != uid {
		t.Errorf("lock file owner %d (%v)", st.Uid, err)
	}
	lock.unlock()
	settle(t, dir)
	boxSync(t, m) // writes the index
	m.Close()
	if _, err := os.Stat(filepath.Join(dir, indexName)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFolder(boxAddr, "A"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameFolder(boxAddr, "INBOX", "Old"); err != nil { // copies dovecot-keywords
		t.Fatal(err)
	}
	if err := s.Subscribe(boxAddr, "A"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Usage(boxAddr); err != nil {
		t.Fatal(err)
	}
	var wrong []string
	filepath.WalkDir(s.root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err == nil && (int(st.Uid) != uid || int(st.Gid) != gid) {
			wrong = append(wrong, strings.TrimPrefix(path, s.root))
		}
		return nil
	})
	if len(wrong) > 0 {
		t.Errorf("not given to %d:%d: %q", uid, gid, wrong)
	}
}
