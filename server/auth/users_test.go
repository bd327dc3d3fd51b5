package auth

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestOpenCreatesNothingUntilFirstWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := openTest(t, dir, "example.org")
	users, err := s.Users()
	if err != nil || len(users) != 0 {
		t.Fatalf("Users on empty store = %v, %v", users, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created %s: %v", dir, err)
	}
	mustAddUser(t, s, "alice@example.org", "pw")
	for path, want := range map[string]os.FileMode{dir: 0o700, passwdPath(dir): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %o; want %o", path, got, want)
		}
	}
	if _, err := os.Stat(aliasPath(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("AddUser wrote an aliases file: %v", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open with empty dir succeeded")
	}
	if _, err := Open(dir, Options{Domains: []string{"bad domain"}}); !errors.Is(err, ErrBadAddress) {
		t.Errorf("bad domain: %v", err)
	}
	if _, err := Open(dir, Options{BcryptCost: 99}); err == nil {
		t.Error("bcrypt cost 99 accepted")
	}
}

func TestAddUserAndVerify(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org", "Example.NET")
	mustAddUser(t, s, "Alice@Example.org", "s3cret pw")
	mustAddUser(t, s, "bob@example.net", "bobs")

	content := readFile(t, passwdPath(dir))
	if !strings.HasPrefix(content, "alice@example.org:{BLF-CRYPT}$2y$04$") || strings.Contains(content, "s3cret") {
		t.Errorf("passwd content:\n%s", content)
	}
	users, err := s.Users()
	if err != nil || !slices.Equal(users, []string{"alice@example.org", "bob@example.net"}) {
		t.Errorf("Users = %v, %v", users, err)
	}
	for _, login := range []string{"alice@example.org", "ALICE@EXAMPLE.ORG", "alice+phone@example.org"} {
		if u, err := s.Verify(login, "s3cret pw"); err != nil || u != "alice@example.org" {
			t.Errorf("Verify(%s) = %q, %v", login, u, err)
		}
	}
	for _, c := range []struct{ login, pw string }{
		{"alice@example.org", "S3CRET PW"},
		{"alice@example.org", ""},
		{"alice@example.org", "bobs"},
		{"nobody@example.org", "s3cret pw"},
		{"not an address", "s3cret pw"},
	} {
		if u, err := s.Verify(c.login, c.pw); !errors.Is(err, ErrBadCredentials) || u != "" {
			t.Errorf("Verify(%q, %q) = %q, %v; want ErrBadCredentials", c.login, c.pw, u, err)
		}
	}
}

func TestAddUserErrors(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	cases := []struct {
		addr, pw string
		want     error
	}{
		{"ALICE@example.org", "pw", ErrUserExists},
		{"bob@elsewhere.org", "pw", ErrNotLocalDomain},
		{"bob+tag@example.org", "pw", ErrBadAddress},
		{"bob", "pw", ErrBadAddress},
		{"bob@@example.org", "pw", ErrBadAddress},
		{"../x@example.org", "pw", ErrBadAddress},
		{"bob@example.org", "", ErrEmptyPassword},
	}
	for _, c := range cases {
		if err := s.AddUser(c.addr, c.pw); !errors.Is(err, c.want) {
			t.Errorf("AddUser(%q) = %v; want %v", c.addr, err, c.want)
		}
	}
	if err := s.AddAlias("family@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("family@example.org", "pw"); !errors.Is(err, ErrAliasExists) {
		t.Errorf("AddUser over an alias = %v; want ErrAliasExists", err)
	}
	if users, _ := s.Users(); !slices.Equal(users, []string{"alice@example.org"}) {
		t.Errorf("failed adds changed the users: %v", users)
	}
}

func TestAnyDomainWhenNoneConfigured(t *testing.T) {
	s, _ := openTest(t, t.TempDir())
	mustAddUser(t, s, "x@anything.example", "pw")
}

func TestSetPassword(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	mustAddUser(t, s, "alice@example.org", "old")
	if err := s.SetPassword("Alice@example.org", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify("alice@example.org", "old"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := s.Verify("alice@example.org", "new"); err != nil {
		t.Errorf("new password refused: %v", err)
	}
	if err := s.SetPassword("nobody@example.org", "x"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("SetPassword unknown = %v", err)
	}
	if err := s.SetPassword("alice@example.org", ""); !errors.Is(err, ErrEmptyPassword) {
		t.Errorf("SetPassword empty = %v", err)
	}
	if err := s.SetPassword("bad", "x"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("SetPassword bad address = %v", err)
	}
}

func TestDeleteUser(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	mustAddUser(t, s, "bob@example.org", "pw")
	if err := s.DeleteUser("ALICE@example.org"); err != nil {
		t.Fatal(err)
	}
	if users, _ := s.Users(); !slices.Equal(users, []string{"bob@example.org"}) {
		t.Errorf("Users after delete = %v", users)
	}
	if _, err := s.Verify("alice@example.org", "pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("deleted user can log in: %v", err)
	}
	if err := s.DeleteUser("alice@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("second delete = %v", err)
	}
	if err := s.DeleteUser("alice"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("delete bad address = %v", err)
	}
}

func TestVerifyImportedDovecotLines(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, passwdPath(dir), strings.Join([]string{
		"# imported from dovecot",
		"blf@example.org:{BLF-CRYPT}$2y$05$3FG8oeIC240nmFJJtcXg4OGRjWJiMHudI8f/rjwyN.Oo6/7fZPA92:1000:1000::/home/blf::",
		"sha@example.org:{SHA512-CRYPT}$6$xaye2AaMuHpocoMC$Al8D2kPWiL/Fvk23AdGXTaWwpTVHBcQhTj56M/0zILalaTe.aSi8T27kCd2tNDQ6s6MgR329FVMBmtWQEwetC/",
		"argon@example.org:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$rmPB5J9wrzboUzXGwVNAPA$vVfpRgv3jWFFcST2PmRLKgr9FVkSa8aECld8CEui9oc",
		"plain@example.org:{PLAIN}letmein",
		"noscheme@example.org:letmein",
		"empty@example.org:",
		"",
	}, "\n"))
	s, logs := openTest(t, dir)
	for user, pw := range map[string]string{"blf@example.org": "dovecot blf", "sha@example.org": "dovecot sha", "argon@example.org": "dovecot argon"} {
		if got, err := s.Verify(user, pw); err != nil || got != user {
			t.Errorf("Verify(%s) = %q, %v", user, got, err)
		}
		if _, err := s.Verify(user, pw+"x"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Verify(%s, wrong) = %v", user, err)
		}
	}
	for _, user := range []string{"plain@example.org", "noscheme@example.org", "empty@example.org"} {
		if _, err := s.Verify(user, "letmein"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Verify(%s) = %v; want refused", user, err)
		}
	}
	out := logs.String()
	for _, want := range []string{"unsupported password scheme {PLAIN}", "no {SCHEME} prefix", "no password hash set"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "letmein") || strings.Contains(out, "dovecot blf") {
		t.Errorf("log contains a password:\n%s", out)
	}
	// Users without a usable password still receive mail.
	if got, err := s.Lookup("empty@example.org"); err != nil || !slices.Equal(got, []string{"empty@example.org"}) {
		t.Errorf("Lookup(empty) = %v, %v", got, err)
	}
}

// TestVerifyUnknownUserDoesBcryptWork checks that a login for an unknown
// user runs a bcrypt comparison at the store's cost, as a known user's
// login does, so timing does not reveal which users exist.
func TestVerifyUnknownUserDoesBcryptWork(t *testing.T) {
	s, _ := openTest(t, t.TempDir(), "example.org")
	if s.dummyHash != "" {
		t.Fatal("dummy hash made before any login")
	}
	if _, err := s.Verify("ghost@example.org", "pw"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	cost, err := bcrypt.Cost([]byte(s.dummyHash))
	if err != nil || cost != s.cost {
		t.Errorf("dummy hash cost %d, %v; want the store's %d", cost, err, s.cost)
	}
}

// TestImportedPlusUser: a Dovecot user whose name contains '+' (which
// AddUser refuses) is still found by its exact name.
func TestImportedPlusUser(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, passwdPath(dir), "a+b@example.org:{BLF-CRYPT}$2y$04$TufjTQnGvrnFb0CCYSLAjOaVAn3bTzr518E25zSgr8Wj/C9MfoIpq\n")
	s, _ := openTest(t, dir, "example.org")
	if u, err := s.Verify("A+B@example.org", "Fam1ly!"); err != nil || u != "a+b@example.org" {
		t.Errorf("Verify = %q, %v", u, err)
	}
	if got, err := s.Lookup("a+b@example.org"); err != nil || !slices.Equal(got, []string{"a+b@example.org"}) {
		t.Errorf("Lookup = %v, %v", got, err)
	}
	if _, err := s.Lookup("a@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Lookup(a) = %v", err)
	}
}
