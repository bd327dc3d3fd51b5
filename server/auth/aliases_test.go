package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestAliasesAddListDelete(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	mustAddUser(t, s, "bob@example.org", "pw")
	if err := s.AddAlias("Family@Example.org", []string{"alice@example.org", "BOB@example.org", "alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAlias("abuse@example.org", []string{"alice+abuse@example.org", "grandma@remote.example"}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, aliasPath(dir)); got != "family@example.org: alice@example.org, bob@example.org\nabuse@example.org: alice+abuse@example.org, grandma@remote.example\n" {
		t.Errorf("aliases file:\n%s", got)
	}
	all, err := s.Aliases()
	want := []Alias{
		{Address: "abuse@example.org", Targets: []string{"alice+abuse@example.org", "grandma@remote.example"}},
		{Address: "family@example.org", Targets: []string{"alice@example.org", "bob@example.org"}},
	}
	if err != nil || !slices.EqualFunc(all, want, func(a, b Alias) bool {
		return a.Address == b.Address && slices.Equal(a.Targets, b.Targets)
	}) {
		t.Errorf("Aliases = %v, %v; want %v", all, err, want)
	}
	if err := s.DeleteAlias("FAMILY@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlias("family@example.org"); !errors.Is(err, ErrNoSuchAlias) {
		t.Errorf("second DeleteAlias = %v", err)
	}
	if err := s.DeleteAlias("family"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("DeleteAlias bad address = %v", err)
	}
	if _, err := s.Lookup("family@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Lookup deleted alias = %v", err)
	}
}

func TestAddAliasErrors(t *testing.T) {
	s, _ := openTest(t, t.TempDir(), "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	if err := s.AddAlias("family@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		alias   string
		targets []string
		want    error
	}{
		{"family@example.org", []string{"alice@example.org"}, ErrAliasExists},
		{"alice@example.org", []string{"family@example.org"}, ErrUserExists},
		{"kids@elsewhere.org", []string{"alice@example.org"}, ErrNotLocalDomain},
		{"kids+x@example.org", []string{"alice@example.org"}, ErrBadAddress},
		{"kids", []string{"alice@example.org"}, ErrBadAddress},
		{"kids@example.org", nil, ErrBadAddress},
		{"kids@example.org", []string{"not an address"}, ErrBadAddress},
		{"kids@example.org", []string{"kids@example.org"}, ErrBadAddress},
		{"kids@example.org", []string{"kids+self@example.org"}, ErrBadAddress},
		{"kids@example.org", []string{"typo@example.org"}, ErrNoSuchUser},
	}
	for _, c := range cases {
		if err := s.AddAlias(c.alias, c.targets); !errors.Is(err, c.want) {
			t.Errorf("AddAlias(%q, %q) = %v; want %v", c.alias, c.targets, err, c.want)
		}
	}
	all, _ := s.Aliases()
	if len(all) != 1 {
		t.Errorf("failed AddAlias calls changed the aliases: %v", all)
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	for _, u := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
		mustAddUser(t, s, u, "pw")
	}
	add := func(alias string, targets ...string) {
		t.Helper()
		if err := s.AddAlias(alias, targets); err != nil {
			t.Fatalf("AddAlias(%s): %v", alias, err)
		}
	}
	add("parents@example.org", "alice@example.org", "bob@example.org")
	add("family@example.org", "parents@example.org", "carol@example.org", "alice@example.org", "uncle@remote.example")
	add("kids@example.org", "carol+kids@example.org")
	// A loop: ping -> pong -> ping. Expansion stops after one level.
	add("ping@example.org", "alice@example.org")
	add("pong@example.org", "ping@example.org", "bob@example.org")
	if err := s.DeleteAlias("ping@example.org"); err != nil {
		t.Fatal(err)
	}
	add("ping@example.org", "pong@example.org")

	cases := map[string][]string{
		"alice@example.org":        {"alice@example.org"},
		"ALICE@Example.ORG":        {"alice@example.org"},
		"alice+shop@example.org":   {"alice@example.org"},
		"parents@example.org":      {"alice@example.org", "bob@example.org"},
		"parents+x@example.org":    {"alice@example.org", "bob@example.org"},
		"family@example.org":       {"alice@example.org", "bob@example.org", "carol@example.org", "uncle@remote.example"},
		"kids@example.org":         {"carol@example.org"},
		"ping@example.org":         {"bob@example.org"},
		"pong@example.org":         {"bob@example.org"},
		"postmaster+x@example.org": nil,
		"nobody@example.org":       nil,
		"alice@remote.example":     nil,
	}
	for addr, want := range cases {
		got, err := s.Lookup(addr)
		if want == nil {
			if !errors.Is(err, ErrNoSuchUser) {
				t.Errorf("Lookup(%s) = %v, %v; want ErrNoSuchUser", addr, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Lookup(%s) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := s.Lookup("bad address"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Lookup(bad) = %v", err)
	}
}

func TestLookupSelfLoopFromFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, aliasPath(dir), "a@example.org: a@example.org\nb@example.org: c@example.org\nc@example.org: b@example.org\n")
	s, _ := openTest(t, dir, "example.org")
	for _, addr := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		if got, err := s.Lookup(addr); !errors.Is(err, ErrNoSuchUser) {
			t.Errorf("Lookup(%s) in a loop = %v, %v; want ErrNoSuchUser", addr, got, err)
		}
	}
}

func TestDeleteUserLeavesAliases(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	mustAddUser(t, s, "bob@example.org", "pw")
	if err := s.AddAlias("family@example.org", []string{"alice@example.org", "bob@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAlias("solo@example.org", []string{"bob@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser("bob@example.org"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readFile(t, aliasPath(dir)), "family@example.org: alice@example.org, bob@example.org") {
		t.Error("DeleteUser changed the aliases file")
	}
	if got, err := s.Lookup("family@example.org"); err != nil || !slices.Equal(got, []string{"alice@example.org"}) {
		t.Errorf("Lookup(family) = %v, %v; want only alice", got, err)
	}
	if got, err := s.Lookup("solo@example.org"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Lookup(solo) = %v, %v; want ErrNoSuchUser (nobody left)", got, err)
	}
}

func TestAliasesCannotLogIn(t *testing.T) {
	s, _ := openTest(t, t.TempDir(), "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	if err := s.AddAlias("family@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify("family@example.org", "pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("alias login = %v", err)
	}
}
