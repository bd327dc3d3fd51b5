package dovecottest

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests need no Dovecot installed.

func TestCheckAddress(t *testing.T) {
	for _, ok := range []string{"alice@example.org", "Bob.Smith+tag@Sub.Example.ORG"} {
		if err := checkAddress(ok); err != nil {
			t.Errorf("checkAddress(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "alice", "@example.org", "alice@", "a@b@c", "a:b@example.org",
		"a/b@example.org", "..@example.org", "alice@..", "a b@example.org", "alice@example.org\n"} {
		if err := checkAddress(bad); err == nil {
			t.Errorf("checkAddress(%q) = nil, want an error", bad)
		}
	}
}

func TestPasswdFile(t *testing.T) {
	users := map[string]string{"Alice@Example.org": "pw:with\ncolon", "bob@example.org": ""}
	data, err := passwdFile(users, nil, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("passwd-file %q: want 2 lines", data)
	}
	for i, want := range []struct{ name, pw string }{{"alice@example.org", "pw:with\ncolon"}, {"bob@example.org", ""}} {
		f := strings.Split(lines[i], ":")
		if len(f) != 8 || f[0] != want.name || f[2] != "1000" || f[3] != "" {
			t.Errorf("line %q: want user %s, uid 1000, empty gid (0 is invalid there), 8 fields", lines[i], want.name)
			continue
		}
		if !ssha256Matches(t, f[1], want.pw) {
			t.Errorf("%s: hash %q does not verify", want.name, f[1])
		}
	}
}

// ssha256Matches verifies a {SSHA256} hash the way Dovecot does.
func ssha256Matches(t *testing.T, hash, pw string) bool {
	t.Helper()
	b64, ok := strings.CutPrefix(hash, "{SSHA256}")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) <= sha256.Size {
		return false
	}
	sum := sha256.Sum256(append([]byte(pw), raw[sha256.Size:]...))
	return string(sum[:]) == string(raw[:sha256.Size])
}

func TestPasswdFileRejects(t *testing.T) {
	if _, err := passwdFile(map[string]string{"a@x.org": "1", "A@X.org": "2"}, nil, 1, 1); err == nil {
		t.Error("users differing only in case: want an error")
	}
	if _, err := passwdFile(map[string]string{"no-domain": "1"}, nil, 1, 1); err == nil {
		t.Error("user without domain: want an error")
	}
}

func testParams(root bool) confParams {
	return confParams{
		StateDir: "/tmp/dt", MailRoot: "/srv/mail", PasswdPath: "/tmp/dt/passwd", LogPath: "/tmp/dt/dovecot.log",
		IMAPPort: 1143, POP3Port: 1110,
		ID: identity{root: root, internalUser: "u", internalGroup: "g", loginUser: "l", mailUID: 65534, mailGID: 65533},
	}
}

func TestRenderConfig(t *testing.T) {
	p := testParams(true)
	p.Extra = "mail_debug = yes"
	conf, err := renderConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"base_dir = /tmp/dt/run\n", "state_dir = /tmp/dt/state\n", "log_path = /tmp/dt/dovecot.log\n",
		"listen = 127.0.0.1\n", "ssl = no\n", "disable_plaintext_auth = no\n", "protocols = imap pop3\n",
		"auth_username_format = %Lu\n", "mail_location = maildir:/srv/mail/%d/%n\n",
		"mail_fsync = always\n", "maildir_very_dirty_syncs = no\n",
		"default_internal_user = u\n", "default_login_user = l\n", "mail_uid = 65534\n", "first_valid_gid = 65533\n",
		"  args = /tmp/dt/passwd\n", "    port = 1143\n", "    port = 1110\n", "  separator = /\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	if strings.Contains(conf, "pop3_uidl_format") {
		t.Error("pop3_uidl_format must stay at Dovecot's default")
	}
	if strings.Contains(conf, "chroot =") {
		t.Error("as root the login processes must keep their chroot")
	}
	if !strings.HasSuffix(strings.TrimSpace(conf), "mail_debug = yes") {
		t.Error("Extra is not appended at the end")
	}
	user, err := renderConfig(testParams(false))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(user, "  chroot =\n"); n != 4 {
		t.Errorf("as a normal user: %d chroot-disabling lines, want 4 (imap-login, pop3-login, anvil, ipc)", n)
	}
}

func TestRenderConfigRejects(t *testing.T) {
	for name, mutate := range map[string]func(*confParams){
		"relative mail root": func(p *confParams) { p.MailRoot = "mail" },
		"newline in path":    func(p *confParams) { p.StateDir = "/tmp/a\nssl = yes" },
		"percent in path":    func(p *confParams) { p.MailRoot = "/srv/%u" },
		"space in path":      func(p *confParams) { p.LogPath = "/tmp/a b" },
		"port 0":             func(p *confParams) { p.IMAPPort = 0 },
		"port too big":       func(p *confParams) { p.POP3Port = 70000 },
	} {
		p := testParams(false)
		mutate(&p)
		if _, err := renderConfig(p); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestUnderDir(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/tmp/a", "/tmp", true}, {"/tmp/a/b", "/tmp", true}, {"/tmp", "/tmp", false},
		{"/tmpx/a", "/tmp", false}, {"/", "/tmp", false}, {"/tmp/..a", "/tmp", true},
	} {
		if got := underDir(tc.p, tc.dir); got != tc.want {
			t.Errorf("underDir(%q, %q) = %v, want %v", tc.p, tc.dir, got, tc.want)
		}
	}
}

func TestMakeReachable(t *testing.T) {
	base := t.TempDir()
	// t.TempDir's own parent is 0700; open it so that only "blocked" is in
	// the way.
	if err := os.Chmod(filepath.Dir(base), 0o711); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(base, "blocked")
	mail := filepath.Join(blocked, "inner", "mail")
	if err := os.MkdirAll(mail, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(blocked, 0o700); err != nil {
		t.Fatal(err)
	}
	// Outside the allowed tree a blocking directory is reported, not changed.
	err := makeReachable(mail, filepath.Join(base, "elsewhere"))
	if err == nil || !strings.Contains(err.Error(), blocked) {
		t.Errorf("outside the allowed tree: err = %v, want one naming %s", err, blocked)
	}
	if mode := modeOf(t, blocked); mode != 0o700 {
		t.Errorf("blocked dir changed to %o outside the allowed tree", mode)
	}
	// Inside it, the directory gets group and other search permission only.
	if err := makeReachable(mail, base); err != nil {
		t.Fatalf("inside the allowed tree: %v", err)
	}
	if mode := modeOf(t, blocked); mode != 0o711 {
		t.Errorf("blocked dir mode %o, want 711", mode)
	}
}

func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPrepareRejectsBadOptions(t *testing.T) {
	if _, err := prepare(binaries{}, Options{}); err == nil {
		t.Error("empty MailRoot: want an error")
	}
	spaced := filepath.Join(t.TempDir(), "my mail")
	if _, err := prepare(binaries{}, Options{MailRoot: spaced}); err == nil {
		t.Error("space in MailRoot: want an error")
	}
	if _, err := os.Stat(spaced); !os.IsNotExist(err) {
		t.Errorf("refused MailRoot was created anyway: %v", err)
	}
	root := filepath.Join(t.TempDir(), "mail")
	if _, err := prepare(binaries{}, Options{MailRoot: root, Users: map[string]string{"bad": "x"}}); err == nil {
		t.Error("bad user: want an error")
	}
}

// recordingTB captures Skipf and Fatalf instead of ending the goroutine.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recordingTB) Fatalf(f string, a ...any) { r.failed = fmt.Sprintf(f, a...) }

func envWith(ci string) func(string) string { return func(string) string { return ci } }

var errMissing = errors.New("dovecot not found")

func TestUnavailableSkipsOrFailsUnderCI(t *testing.T) {
	local := &recordingTB{}
	unavailable(local, envWith(""), errMissing)
	if local.failed != "" || !strings.Contains(local.skipped, "dovecot not found") {
		t.Errorf("without CI: skipped %q, failed %q; want a skip with the reason", local.skipped, local.failed)
	}
	ci := &recordingTB{}
	unavailable(ci, envWith("true"), errMissing)
	if ci.skipped != "" || !strings.Contains(ci.failed, "dovecot not found") {
		t.Errorf("under CI: skipped %q, failed %q; want a failure with the reason", ci.skipped, ci.failed)
	}
}
