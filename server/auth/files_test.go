package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const dovecotPasswd = `# family mail, imported from Dovecot
alice@example.org:{BLF-CRYPT}$2y$05$3FG8oeIC240nmFJJtcXg4OGRjWJiMHudI8f/rjwyN.Oo6/7fZPA92:1000:1000:Alice:/home/alice:/bin/false:userdb_quota_rule=*:storage=1G

  # indented comment
this line has no colon
Bob@Example.org:{SHA512-CRYPT}$6$xaye2AaMuHpocoMC$Al8D2kPWiL/Fvk23AdGXTaWwpTVHBcQhTj56M/0zILalaTe.aSi8T27kCd2tNDQ6s6MgR329FVMBmtWQEwetC/::::::
not an address:{PLAIN}x
../etc@example.org:{PLAIN}x
alice@example.org:{PLAIN}duplicate
`

const familyAliases = `# aliases
family@example.org: alice@example.org, bob@example.org
broken line without colon
bad@example.org: not an address, alice@example.org
empty@example.org:
Kids@Example.org:bob@example.org,alice@example.org
`

func TestMalformedLinesToleratedAndKept(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, passwdPath(dir), dovecotPasswd)
	writeFile(t, aliasPath(dir), familyAliases)
	s, logs := openTest(t, dir, "example.org")

	users, err := s.Users()
	if err != nil || !slices.Equal(users, []string{"alice@example.org", "bob@example.org"}) {
		t.Errorf("Users = %v, %v", users, err)
	}
	all, _ := s.Aliases()
	if len(all) != 2 || all[0].Address != "family@example.org" || all[1].Address != "kids@example.org" {
		t.Errorf("Aliases = %v", all)
	}
	out := logs.String()
	for _, line := range []int{5, 7, 8, 9} {
		if want := fmt.Sprintf("%s:%d", passwdPath(dir), line); !strings.Contains(out, want) {
			t.Errorf("log does not name %s:\n%s", want, out)
		}
	}
	for _, line := range []int{3, 4, 5} {
		if want := fmt.Sprintf("%s:%d", aliasPath(dir), line); !strings.Contains(out, want) {
			t.Errorf("log does not name %s:\n%s", want, out)
		}
	}
	if _, err := s.Verify("alice@example.org", "duplicate"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the ignored duplicate line was used: %v", err)
	}

	// A write keeps every other line, byte for byte.
	mustAddUser(t, s, "carol@example.org", "pw")
	got := readFile(t, passwdPath(dir))
	if !strings.HasPrefix(got, dovecotPasswd) || !strings.HasPrefix(got[len(dovecotPasswd):], "carol@example.org:{BLF-CRYPT}$2y$04$") {
		t.Errorf("passwd after AddUser:\n%s", got)
	}
	if err := s.AddAlias("friends@example.org", []string{"carol@example.org"}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, aliasPath(dir)); got != familyAliases+"friends@example.org: carol@example.org\n" {
		t.Errorf("aliases after AddAlias:\n%s", got)
	}
}

func TestSetPasswordKeepsDovecotFields(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, passwdPath(dir), dovecotPasswd)
	s, _ := openTest(t, dir, "example.org")
	if err := s.SetPassword("alice@example.org", "new"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(readFile(t, passwdPath(dir)), "\n")
	if !strings.HasPrefix(lines[1], "alice@example.org:{BLF-CRYPT}$2y$04$") ||
		!strings.HasSuffix(lines[1], ":1000:1000:Alice:/home/alice:/bin/false:userdb_quota_rule=*:storage=1G") {
		t.Errorf("alice's line: %q", lines[1])
	}
	want := strings.Split(dovecotPasswd, "\n")
	lines[1], want[1] = "", ""
	if !slices.Equal(lines, want) {
		t.Errorf("other lines changed:\n%s", strings.Join(lines, "\n"))
	}
	if _, err := s.Verify("alice@example.org", "new"); err != nil {
		t.Errorf("Verify after SetPassword: %v", err)
	}
}

func TestDeleteRemovesInertDuplicates(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, passwdPath(dir), dovecotPasswd)
	s, _ := openTest(t, dir, "example.org")
	if err := s.DeleteUser("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, passwdPath(dir))
	if strings.Contains(got, "alice@") {
		t.Errorf("alice still in the file, a duplicate would come back to life:\n%s", got)
	}
	if !strings.Contains(got, "this line has no colon\n") || !strings.Contains(got, "Bob@Example.org:{SHA512-CRYPT}") {
		t.Errorf("DeleteUser dropped unrelated lines:\n%s", got)
	}
	if _, err := s.Lookup("alice@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Lookup(alice) after delete = %v", err)
	}
}

func TestParsePasswdRoundTrip(t *testing.T) {
	f, problems := parsePasswd([]byte(dovecotPasswd))
	if got := string(f.bytes()); got != dovecotPasswd {
		t.Errorf("round trip changed the file:\n%s", got)
	}
	if len(problems) != 4 {
		t.Errorf("problems = %v; want 4", problems)
	}
	l, ok := f.lookup("bob@example.org")
	if !ok || l.extra != "::::::" || !strings.HasPrefix(l.hash, "{SHA512-CRYPT}$6$") {
		t.Errorf("bob = %+v, %v", l, ok)
	}
	// A missing final newline is added; nothing else changes.
	f, _ = parsePasswd([]byte("a@b.c:{X}y"))
	if got := string(f.bytes()); got != "a@b.c:{X}y\n" {
		t.Errorf("no final newline: %q", got)
	}
}

func TestParseAliasesRoundTrip(t *testing.T) {
	f, problems := parseAliases([]byte(familyAliases))
	if got := string(f.bytes()); got != familyAliases {
		t.Errorf("round trip changed the file:\n%s", got)
	}
	if len(problems) != 3 {
		t.Errorf("problems = %v; want 3", problems)
	}
	if targets, ok := f.lookup("kids@example.org"); !ok || !slices.Equal(targets, []string{"bob@example.org", "alice@example.org"}) {
		t.Errorf("kids = %v, %v", targets, ok)
	}
}
