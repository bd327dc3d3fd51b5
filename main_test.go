package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a minimal configuration for example.org with every
// listener off, so CLI tests need no ports.
func writeConfig(t *testing.T, extra string) (path, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	path = filepath.Join(dir, "config.ini")
	text := `[server]
hostname = mail.example.org
domains = example.org, example.net
data_dir = ` + dataDir + `

[listen]
smtp =
submission =
submissions =
imap =
imaps =
pop3 =
pop3s =
http =

[tls]
mode = selfsigned
` + extra
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dataDir
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb})
	return result{code, out.String(), errb.String()}
}

func (r result) must(t *testing.T, code int, stdoutHas, stderrHas string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, stdoutHas) {
		t.Fatalf("stdout %q does not contain %q", r.stdout, stdoutHas)
	}
	if !strings.Contains(r.stderr, stderrHas) {
		t.Fatalf("stderr %q does not contain %q", r.stderr, stderrHas)
	}
}

func TestVersion(t *testing.T) {
	runCLI(t, "", "version").must(t, exitOK, "maildird "+version, "")
	runCLI(t, "", "version", "extra").must(t, exitUsage, "", "usage:")
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"-nosuchflag"},
		{"user"},
		{"user", "rename", "a@example.org"},
		{"user", "add"},
		{"user", "add", "a@example.org", "b@example.org"},
		{"user", "list", "x"},
		{"alias"},
		{"alias", "add", "family@example.org"},
		{"alias", "del"},
		{"alias", "list", "x"},
		{"alias", "frob"},
		{"check", "x"},
		{"serve", "x"},
	} {
		r := runCLI(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "usage: maildird") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 with usage", args, r.code, r.stderr)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	runCLI(t, "", "-h").must(t, exitOK, "", "usage: maildird")
}

func TestUserLifecycle(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	runCLI(t, "secret one\n", "-config", cfg, "user", "add", "Alice@Example.ORG").must(t, exitOK, "added alice@example.org", "")
	runCLI(t, "pw\n", "-config", cfg, "user", "add", "bob@example.net").must(t, exitOK, "added", "")
	runCLI(t, "", "-config", cfg, "user", "list").must(t, exitOK, "alice@example.org\nbob@example.net\n", "")

	passwd, err := os.ReadFile(filepath.Join(dataDir, "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(passwd), "alice@example.org:{BLF-CRYPT}$2y$") || strings.Contains(string(passwd), "secret one") {
		t.Fatalf("passwd file does not hold a bcrypt hash only:\n%s", passwd)
	}

	runCLI(t, "new secret\n", "-config", cfg, "user", "passwd", "alice@example.org").must(t, exitOK, "password changed", "")
	after, _ := os.ReadFile(filepath.Join(dataDir, "passwd"))
	if bytes.Equal(after, passwd) {
		t.Error("user passwd did not change the stored hash")
	}
	runCLI(t, "", "-config", cfg, "user", "del", "bob@example.net").must(t, exitOK, "deleted bob@example.net", "")
	r := runCLI(t, "", "-config", cfg, "user", "list")
	if strings.Contains(r.stdout, "bob@") {
		t.Errorf("deleted user still listed: %q", r.stdout)
	}
}

func TestUserBadInput(t *testing.T) {
	cfg, _ := writeConfig(t, "")
	runCLI(t, "pw\n", "-config", cfg, "user", "add", "alice@example.org").must(t, exitOK, "added", "")
	cases := []struct {
		name, stdin string
		args        []string
		stderrHas   string
	}{
		{"duplicate user", "pw\n", []string{"user", "add", "ALICE@example.org"}, "exists"},
		{"empty password", "\n", []string{"user", "add", "carol@example.org"}, "empty password"},
		{"no password at all", "", []string{"user", "add", "carol@example.org"}, "empty password"},
		{"bad address", "pw\n", []string{"user", "add", "not-an-address"}, "user add not-an-address"},
		{"two at signs", "pw\n", []string{"user", "add", "a@b@example.org"}, "user add"},
		{"non-local domain", "pw\n", []string{"user", "add", "eve@elsewhere.example"}, "elsewhere.example"},
		{"unknown user del", "", []string{"user", "del", "nobody@example.org"}, "nobody@example.org"},
		{"unknown user passwd", "pw\n", []string{"user", "passwd", "nobody@example.org"}, "nobody@example.org"},
		{"over-long password", strings.Repeat("x", maxPasswordLine+10) + "\n", []string{"user", "add", "dave@example.org"}, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-config", cfg}, c.args...)
			runCLI(t, c.stdin, args...).must(t, exitError, "", c.stderrHas)
		})
	}
}

func TestAliasLifecycle(t *testing.T) {
	cfg, _ := writeConfig(t, "")
	for _, u := range []string{"alice@example.org", "bob@example.org"} {
		runCLI(t, "pw\n", "-config", cfg, "user", "add", u).must(t, exitOK, "added", "")
	}
	runCLI(t, "", "-config", cfg, "alias", "add", "family@example.org", "alice@example.org,", "bob@example.org").
		must(t, exitOK, "added alias family@example.org: alice@example.org, bob@example.org", "")
	runCLI(t, "", "-config", cfg, "alias", "list").must(t, exitOK, "family@example.org: alice@example.org, bob@example.org", "")
	runCLI(t, "", "-config", cfg, "alias", "add", "family@example.org", "alice@example.org").must(t, exitError, "", "exists")
	runCLI(t, "", "-config", cfg, "alias", "add", "alice@example.org", "bob@example.org").must(t, exitError, "", "alias add alice@example.org")
	runCLI(t, "", "-config", cfg, "alias", "add", "x@example.org", "not an address").must(t, exitError, "", "alias add x@example.org")
	runCLI(t, "", "-config", cfg, "alias", "del", "family@example.org").must(t, exitOK, "deleted alias", "")
	runCLI(t, "", "-config", cfg, "alias", "del", "family@example.org").must(t, exitError, "", "family@example.org")
	if r := runCLI(t, "", "-config", cfg, "alias", "list"); r.stdout != "" {
		t.Errorf("alias list after delete: %q", r.stdout)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	cfg, _ := writeConfig(t, "[limits]\nmax_message_size = lots\n")
	r := runCLI(t, "", "-config", cfg, "check")
	r.must(t, exitError, "", cfg+":")
	if !strings.Contains(r.stderr, "max_message_size") {
		t.Errorf("error does not name the key: %q", r.stderr)
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 {
		t.Errorf("config error is %d lines, want one:\n%s", lines+1, r.stderr)
	}

	missing := filepath.Join(t.TempDir(), "nope.ini")
	runCLI(t, "", "-config", missing, "check").must(t, exitError, "", "nope.ini")

	dir := t.TempDir()
	unreadable := filepath.Join(dir, "config.ini")
	if err := os.Mkdir(unreadable, 0o755); err != nil { // a directory cannot be read as a file, even by root
		t.Fatal(err)
	}
	runCLI(t, "", "-config", unreadable, "user", "list").must(t, exitError, "", "config.ini")
}

func TestCheck(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	r := runCLI(t, "", "-config", cfg, "check")
	r.must(t, exitOK, "all checks passed", "")
	if !strings.Contains(r.stdout, "user add you@example.org") {
		t.Errorf("check does not say how to add the first user:\n%s", r.stdout)
	}
	runCLI(t, "pw\n", "-config", cfg, "user", "add", "alice@example.org").must(t, exitOK, "added", "")
	runCLI(t, "", "-config", cfg, "check").must(t, exitOK, "1 user(s)", "")

	// A data_dir that is a file is a problem check names.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dataDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "", "-config", cfg, "check").must(t, exitError, "problem: data_dir "+dataDir+" is not a directory", "check found")
}

func TestCheckReportsMismatchedCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, []byte("not a certificate"), 0o644)
	os.WriteFile(key, []byte("not a key"), 0o600)
	cfg, _ := writeConfig(t, "cert = "+cert+"\nkey = "+key+"\n")
	// mode is set to selfsigned by writeConfig; switch it to files.
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(text, []byte("mode = selfsigned"), []byte("mode = files"), 1), 0o644)
	runCLI(t, "", "-config", cfg, "check").must(t, exitError, "problem: tls", "")
}

func TestJunkCommand(t *testing.T) {
	cfg, _ := writeConfig(t, "")
	runCLI(t, "pw\n", "-config", cfg, "user", "add", "alice@example.org").must(t, exitOK, "added", "")
	runCLI(t, "", "-config", cfg, "junk", "add", "alice@example.org", "Spam@Example.COM").must(t, exitOK, "on the blocklist", "")
	runCLI(t, "", "-config", cfg, "junk", "add", "alice@example.org", "@junk.example").must(t, exitOK, "", "")
	runCLI(t, "", "-config", cfg, "junk", "allow", "Alice@example.org", "friend@junk.example").must(t, exitOK, "on the allowlist", "")
	runCLI(t, "", "-config", cfg, "junk", "list", "alice@example.org").
		must(t, exitOK, "block spam@example.com\nblock @junk.example\nallow friend@junk.example\n", "")
	runCLI(t, "", "-config", cfg, "junk", "del", "alice@example.org", "@junk.example").must(t, exitOK, "removed", "")
	runCLI(t, "", "-config", cfg, "junk", "del", "alice@example.org", "@junk.example").must(t, exitError, "", "not on")
	runCLI(t, "", "-config", cfg, "junk", "add", "alice@example.org", "not-an-address").must(t, exitError, "", "bad junk list entry")
	runCLI(t, "", "-config", cfg, "junk", "add", "nobody@example.org", "a@b.example").must(t, exitError, "", "nobody@example.org")
	runCLI(t, "", "-config", cfg, "junk", "list").must(t, exitUsage, "", "junk list takes one USER")
	runCLI(t, "", "-config", cfg, "junk", "frob", "a", "b").must(t, exitUsage, "", "unknown junk subcommand")
}
