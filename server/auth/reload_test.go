package auth

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestReloadAfterExternalWrite edits the files behind a running Store's
// back, as the CLI (another process) does, and checks the change is seen
// once the reload interval has passed, and not before.
func TestReloadAfterExternalWrite(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, passwdPath(dir), "alice@example.org:{BLF-CRYPT}$2y$04$TufjTQnGvrnFb0CCYSLAjOaVAn3bTzr518E25zSgr8Wj/C9MfoIpq\n")
	logger, _ := testLogger(t)
	const interval = 50 * time.Millisecond
	s, err := Open(dir, Options{Logger: logger, BcryptCost: bcrypt.MinCost, ReloadInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify("alice@example.org", "Fam1ly!"); err != nil {
		t.Fatalf("Verify before edit: %v", err)
	}

	// The same user with another hash: a same-size in-place rewrite, which
	// only mtime/ctime can reveal.
	writeFile(t, passwdPath(dir), "alice@example.org:{BLF-CRYPT}$2y$05$3FG8oeIC240nmFJJtcXg4OGRjWJiMHudI8f/rjwyN.Oo6/7fZPA92\n")
	writeFile(t, aliasPath(dir), "family@example.org: alice@example.org\n")
	time.Sleep(interval + 10*time.Millisecond)

	if _, err := s.Verify("alice@example.org", "dovecot blf"); err != nil {
		t.Errorf("new password not seen after reload: %v", err)
	}
	if _, err := s.Verify("alice@example.org", "Fam1ly!"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password still accepted: %v", err)
	}
	if got, err := s.Lookup("family@example.org"); err != nil || !slices.Equal(got, []string{"alice@example.org"}) {
		t.Errorf("new alias not seen: %v, %v", got, err)
	}

	// A rename over the file, as the CLI's writes do, and a removal.
	other, _ := openTest(t, dir)
	mustAddUser(t, other, "bob@example.org", "pw")
	if err := os.Remove(aliasPath(dir)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(interval + 10*time.Millisecond)
	if users, err := s.Users(); err != nil || !slices.Equal(users, []string{"alice@example.org", "bob@example.org"}) {
		t.Errorf("Users after another Store's write = %v, %v", users, err)
	}
	if _, err := s.Lookup("family@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("removed aliases file still used: %v", err)
	}
}

// TestCacheAndOwnWrites: within the reload interval an external edit is
// not read (the files are not stat'ed on every login), but the Store's own
// writes are visible at once.
func TestCacheAndOwnWrites(t *testing.T) {
	dir := t.TempDir()
	logger, _ := testLogger(t)
	s, err := Open(dir, Options{Logger: logger, BcryptCost: bcrypt.MinCost, ReloadInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, aliasPath(dir), "family@example.org: alice@example.org\n")
	if _, err := s.Lookup("family@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("external edit read within the reload interval: %v", err)
	}
	mustAddUser(t, s, "alice@example.org", "pw")
	if _, err := s.Verify("alice@example.org", "pw"); err != nil {
		t.Errorf("own write not visible: %v", err)
	}
	if got, err := s.Lookup("family@example.org"); err != nil || !slices.Equal(got, []string{"alice@example.org"}) {
		t.Errorf("Lookup after own write = %v, %v", got, err)
	}
}

// TestUnreadableFile uses a directory in place of the file, which fails to
// read even for root.
func TestUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(passwdPath(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("Open with an unreadable passwd file succeeded")
	}
	logger, logs := testLogger(t)
	s, err := Open(t.TempDir(), Options{Logger: logger, BcryptCost: bcrypt.MinCost, ReloadInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustAddUser(t, s, "alice@example.org", "pw")
	if _, err := s.Verify("alice@example.org", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(passwdPath(s.dataDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(passwdPath(s.dataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	// The last good state keeps serving, and the failure is logged.
	if _, err := s.Verify("alice@example.org", "pw"); err != nil {
		t.Errorf("Verify during a broken reload: %v", err)
	}
	if !strings.Contains(logs.String(), "reloading users and aliases failed") {
		t.Errorf("reload failure not logged:\n%s", logs.String())
	}
	if err := s.AddUser("bob@example.org", "pw"); err == nil {
		t.Error("AddUser over an unreadable passwd file succeeded")
	}
}
