package dovecottest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	alice    = "alice@example.org"
	alicePwd = "s3cret: with colon" // ':' would break a {PLAIN} passwd-file line
)

// msgOne and msgTwo are sent with CRLF; Dovecot stores them with LF.
var (
	msgOne = "From: bob@example.net\r\nTo: alice@example.org\r\nSubject: one\r\n\r\nHello one\r\n"
	msgTwo = "From: bob@example.net\r\nTo: alice@example.org\r\nSubject: two\r\n\r\nHello two\r\nline 2\r\n"
)

var (
	uidlistHeader = regexp.MustCompile(`^3 V([0-9]+) N([0-9]+) G[0-9a-f]{32}$`)
	uidlistRecord = regexp.MustCompile(`^([0-9]+)(?: [A-Z][^ :]*)* :(.+)$`)
	appendUID     = regexp.MustCompile(`\[APPENDUID ([0-9]+) ([0-9]+)\]`)
)

func aliceRoot(mailRoot string) string { return filepath.Join(mailRoot, "example.org", "alice") }

func startAlice(t *testing.T) (*Server, string) {
	t.Helper()
	root := t.TempDir()
	return Start(t, Options{MailRoot: root, Users: map[string]string{alice: alicePwd}}), root
}

// loginIMAP logs in with a mixed-case name: auth_username_format = %Lu must
// map it to the lowercase passwd-file entry and the lowercase directory.
func loginIMAP(t *testing.T, s *Server) *imapConn {
	t.Helper()
	c := dialIMAP(t, s.IMAPAddr)
	c.ok(fmt.Sprintf("LOGIN Alice@Example.ORG %q", alicePwd), nil)
	return c
}

// TestIMAPSessionOnDisk drives Dovecot over IMAP and POP3 and checks the
// files it leaves in the Maildir against FORMATS.md.
func TestIMAPSessionOnDisk(t *testing.T) {
	s, mailRoot := startAlice(t)
	c := loginIMAP(t, s)
	uidv, uid1 := appendMsg(t, c, "", msgOne)
	_, uid2 := appendMsg(t, c, "", msgTwo)
	if uid1 != 1 || uid2 != 2 {
		t.Fatalf("APPENDUIDs %d, %d; want 1, 2", uid1, uid2)
	}
	c.ok("SELECT INBOX", nil)
	c.ok(`UID STORE 1 +FLAGS (\Flagged $Important)`, nil)
	c.ok(`UID STORE 2 +FLAGS (\Deleted)`, nil)
	c.ok("EXPUNGE", nil)
	c.ok("CREATE Family/Photos", nil)
	c.ok("SUBSCRIBE Family/Photos", nil)
	c.ok("LOGOUT", nil)

	dir := aliceRoot(mailRoot)
	checkUIDList(t, dir, uidv)
	checkMessageFile(t, dir)
	checkFile(t, filepath.Join(dir, "dovecot-keywords"), "0 $Important\n")
	checkFile(t, filepath.Join(dir, "subscriptions"), "V\t2\n\nFamily\tPhotos\n")
	checkFile(t, filepath.Join(dir, ".Family.Photos", "maildirfolder"), "")
	checkUIDL(t, s, uidv)
}

// appendMsg APPENDs msg and returns the UIDVALIDITY and UID from APPENDUID.
func appendMsg(t *testing.T, c *imapConn, flags, msg string) (uidvalidity, uid uint32) {
	t.Helper()
	cmd := "APPEND INBOX"
	if flags != "" {
		cmd += " (" + flags + ")"
	}
	_, status := c.ok(cmd, []byte(msg))
	m := appendUID.FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("APPEND reply without APPENDUID: %s", status)
	}
	return mustUint32(t, m[1]), mustUint32(t, m[2])
}

func mustUint32(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return uint32(n)
}

// checkUIDList checks the header and that UID 1 maps to the message still in
// cur/. UID 2 may or may not still be listed: Dovecot drops expunged
// records lazily (FORMATS.md).
func checkUIDList(t *testing.T, dir string, wantUIDV uint32) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	h := uidlistHeader.FindStringSubmatch(lines[0])
	if h == nil {
		t.Fatalf("uidlist header %q", lines[0])
	}
	if got := mustUint32(t, h[1]); got != wantUIDV {
		t.Errorf("uidlist V%d, APPENDUID said %d", got, wantUIDV)
	}
	if got := mustUint32(t, h[2]); got != 3 {
		t.Errorf("uidlist N%d, want N3", got)
	}
	base := map[string]string{}
	for _, l := range lines[1:] {
		r := uidlistRecord.FindStringSubmatch(l)
		if r == nil {
			t.Fatalf("uidlist record %q", l)
		}
		base[r[1]] = r[2]
	}
	cur := listDir(t, filepath.Join(dir, "cur"))
	if len(cur) != 1 || cur[0] != base["1"]+":2,Fa" {
		t.Errorf("cur/ = %q; want UID 1's %q with :2,Fa", cur, base["1"])
	}
	if n := listDir(t, filepath.Join(dir, "new")); len(n) != 0 {
		t.Errorf("new/ after SELECT = %q, want empty", n)
	}
}

// checkMessageFile checks ,S= (stored LF size) and ,W= (CRLF size).
func checkMessageFile(t *testing.T, dir string) {
	t.Helper()
	cur := listDir(t, filepath.Join(dir, "cur"))
	if len(cur) != 1 {
		t.Fatalf("cur/ = %q", cur)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cur", cur[0]))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(msgOne, "\r\n", "\n"); string(data) != want {
		t.Errorf("stored message %q, want %q", data, want)
	}
	suffix := fmt.Sprintf(",S=%d,W=%d:2,Fa", len(data), len(msgOne))
	if !strings.HasSuffix(cur[0], suffix) {
		t.Errorf("file name %q does not end in %q", cur[0], suffix)
	}
}

// checkUIDL reads the POP3 UIDL of the one message left: UID 1, then the
// UIDVALIDITY, both as 8 hex digits.
func checkUIDL(t *testing.T, s *Server, uidv uint32) {
	t.Helper()
	p := dialPOP3(t, s.POP3Addr)
	p.ok("USER " + alice)
	p.ok("PASS " + alicePwd)
	got := p.multi("UIDL")
	want := []string{fmt.Sprintf("1 %08x%08x", 1, uidv)}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("UIDL = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^1 [0-9a-f]{16}$`).MatchString(got[0]) {
		t.Errorf("UIDL line %q is not 16 lowercase hex digits", got[0])
	}
	p.ok("QUIT")
}

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Errorf("%s = %q, want %q", path, data, want)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWrongPasswordRefused(t *testing.T) {
	s, _ := startAlice(t)
	c := dialIMAP(t, s.IMAPAddr)
	if _, status := c.do(`LOGIN alice@example.org "wrong"`, nil); !strings.HasPrefix(status, "NO") {
		t.Errorf("LOGIN with a wrong password: %s", status)
	}
}

func TestDoveadm(t *testing.T) {
	s, _ := startAlice(t)
	c := loginIMAP(t, s)
	uidv, _ := appendMsg(t, c, `\Seen`, msgOne)
	c.ok("LOGOUT", nil)
	got := s.Doveadm(t, "mailbox", "status", "-u", alice, "messages uidnext uidvalidity", "INBOX")
	want := fmt.Sprintf("INBOX messages=1 uidnext=2 uidvalidity=%d", uidv)
	if strings.TrimSpace(got) != want {
		t.Errorf("doveadm mailbox status = %q, want %q", got, want)
	}
	s.Doveadm(t, "force-resync", "-u", alice, "INBOX")
	if got := s.Doveadm(t, "fetch", "-u", alice, "uid flags", "all"); !strings.Contains(got, `flags: \Seen`) {
		t.Errorf("doveadm fetch = %q, want the \\Seen flag", got)
	}
	_, err := s.doveadm("mailbox", "status", "-u", "nobody@example.org", "messages", "INBOX")
	if err == nil || !strings.Contains(err.Error(), "nobody@example.org") {
		t.Errorf("doveadm for an unknown user: err = %v, want an error naming the user", err)
	}
}

// TestTwoServers runs two Dovecots side by side: separate ports, processes
// and mail.
func TestTwoServers(t *testing.T) {
	a, _ := startAlice(t)
	b, _ := startAlice(t)
	if a.IMAPAddr == b.IMAPAddr || a.POP3Addr == b.POP3Addr || a.PID() == b.PID() || a.stateDir == b.stateDir {
		t.Fatalf("servers share resources: %+v / %+v", a, b)
	}
	c := loginIMAP(t, a)
	appendMsg(t, c, "", msgOne)
	c.ok("LOGOUT", nil)
	loginIMAP(t, b).ok("LOGOUT", nil)
	for _, tc := range []struct {
		s    *Server
		want string
	}{{a, "messages=1"}, {b, "messages=0"}} {
		if got := tc.s.Doveadm(t, "mailbox", "status", "-u", alice, "messages", "INBOX"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: status %q, want %q", tc.s.IMAPAddr, got, tc.want)
		}
	}
}

// TestCleanupStops checks that the cleanup Start registers ends the master
// process, frees the port and removes the state directory.
func TestCleanupStops(t *testing.T) {
	var s *Server
	t.Run("server", func(t *testing.T) {
		s, _ = startAlice(t)
		loginIMAP(t, s).ok("LOGOUT", nil)
	})
	if s == nil {
		t.Skip("the subtest did not start Dovecot")
	}
	if !isGone(s.PID()) {
		t.Errorf("dovecot master %d still exists after cleanup", s.PID())
	}
	if _, err := os.Stat(s.stateDir); !os.IsNotExist(err) {
		t.Errorf("state dir %s after cleanup: %v", s.stateDir, err)
	}
	if c, err := net.DialTimeout("tcp", s.IMAPAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("IMAP %s still accepts after cleanup", s.IMAPAddr)
	}
}

// TestPreseededMailRoot gives Dovecot a Maildir written by the test before
// Start (as root: owned by root). Dovecot must be able to take the file from
// new/ into cur/, which needs the ownership Start hands over.
func TestPreseededMailRoot(t *testing.T) {
	root := t.TempDir()
	dir := aliceRoot(root)
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	const name = "1700000000.seed.host"
	if err := os.WriteFile(filepath.Join(dir, "new", name), []byte("Subject: seed\n\nseed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Start(t, Options{MailRoot: root, Users: map[string]string{alice: alicePwd}})
	c := loginIMAP(t, s)
	untagged, _ := c.ok("SELECT INBOX", nil)
	if !containsLine(untagged, "* 1 EXISTS") {
		t.Errorf("SELECT: %q, want 1 EXISTS", untagged)
	}
	c.ok("LOGOUT", nil)
	if got := listDir(t, filepath.Join(dir, "cur")); len(got) != 1 || got[0] != name+":2," {
		t.Errorf("cur/ = %q, want %q", got, name+":2,")
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
