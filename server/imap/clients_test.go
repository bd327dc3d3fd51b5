package imap

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
)

// End-to-end tests with the IMAP clients people use, from Debian: mbsync
// (isync), curl and python3's imaplib. Each is skipped when the program is
// missing.

func needProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func runProgram(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// localMessages lists the message files of a local Maildir folder.
func localMessages(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, filepath.Join(dir, sub, e.Name()))
		}
	}
	return out
}

func (ts *testServer) port() string {
	_, p, _ := net.SplitHostPort(ts.addr)
	return p
}

// mbsync syncs a 500-message INBOX both ways: the pull, a flag change
// made on the server, a local deletion and a local new message pushed.
func TestMbsync(t *testing.T) {
	mbsync := needProgram(t, "mbsync")
	ts := newTestServer(t, nil)
	const n = 500
	for i := 1; i <= n; i++ {
		ts.deliver("", testMessage(i))
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "mbsyncrc")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`IMAPAccount acct
Host 127.0.0.1
Port %s
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN
Timeout 30

IMAPStore remote
Account acct

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
`, ts.port(), testUser, testPass, local, local)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	sync := func() {
		t.Helper()
		runProgram(t, 2*time.Minute, mbsync, "-c", conf, "-a")
	}
	inbox := filepath.Join(local, "INBOX")

	// Pull.
	sync()
	files := localMessages(t, inbox)
	if len(files) != n {
		t.Fatalf("pulled %d messages, want %d", len(files), n)
	}
	body, err := os.ReadFile(files[0])
	if err != nil || !strings.Contains(string(body), "Subject: message ") {
		t.Fatalf("pulled message: %q %v", body, err)
	}

	// A flag change on the server is pulled.
	c, _ := ts.selectBox("INBOX")
	if err := c.Store(goimap.SeqSetNum(1, 2, 3), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	sync()
	flagged := 0
	for _, f := range localMessages(t, inbox) {
		if i := strings.LastIndex(f, ":2,"); i >= 0 && strings.Contains(f[i:], "F") {
			flagged++
		}
	}
	if flagged != 3 {
		t.Fatalf("%d local messages flagged, want 3", flagged)
	}

	// A local deletion is pushed, and so is a local new message.
	files = localMessages(t, inbox)
	for _, f := range files[:5] {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	newMsg := "From: alice@example.org\nSubject: written offline\n\nhello\n"
	if err := os.WriteFile(filepath.Join(inbox, "new", "1700000000.offline.host"), []byte(newMsg), 0o600); err != nil {
		t.Fatal(err)
	}
	sync()
	c, data := ts.selectBox("INBOX")
	if data.NumMessages != n-5+1 {
		t.Fatalf("server INBOX has %d messages, want %d", data.NumMessages, n-5+1)
	}
	uids, err := c.UIDSearch(&goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "written offline"}}}, nil).Wait()
	if err != nil || len(uids.AllUIDs()) != 1 {
		t.Fatalf("pushed message on the server: %v %v", uids, err)
	}
	// And a second run changes nothing.
	sync()
	if got := len(localMessages(t, inbox)); got != n-5+1 {
		t.Fatalf("local INBOX has %d messages after a second sync", got)
	}
}

// curl fetches one message by UID over imap://.
func TestCurl(t *testing.T) {
	curl := needProgram(t, "curl")
	ts := newTestServer(t, nil)
	ts.deliver("", testMessage(1))
	ts.deliver("", testMessage(2))
	out := runProgram(t, time.Minute, curl, "-sS", "--max-time", "30",
		"--user", testUser+":"+testPass,
		fmt.Sprintf("imap://127.0.0.1:%s/INBOX;UID=2", ts.port()))
	if out != testMessage(2) {
		t.Fatalf("curl got %q, want %q", out, testMessage(2))
	}
	// The folder listing too.
	out = runProgram(t, time.Minute, curl, "-sS", "--max-time", "30",
		"--user", testUser+":"+testPass, fmt.Sprintf("imap://127.0.0.1:%s/", ts.port()))
	if !strings.Contains(out, "INBOX") || !strings.Contains(out, "Sent") {
		t.Fatalf("curl LIST: %q", out)
	}
}

// python3's imaplib: login, list, select, search, fetch, store, copy,
// expunge, append.
func TestPythonImaplib(t *testing.T) {
	python := needProgram(t, "python3")
	ts := newTestServer(t, nil)
	for i := 1; i <= 3; i++ {
		ts.deliver("", testMessage(i))
	}
	script := `
import imaplib, sys
port, user, password, want = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
M = imaplib.IMAP4("127.0.0.1", port, timeout=30)
M.login(user, password)
typ, folders = M.list()
assert typ == "OK" and any(b"Sent" in f for f in folders), folders
typ, data = M.select("INBOX")
assert typ == "OK" and data[0] == b"3", data
typ, data = M.search(None, "SUBJECT", '"message 2"')
assert data[0] == b"2", data
typ, data = M.fetch("2", "(RFC822)")
assert data[0][1].decode() == want, data
typ, data = M.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
assert typ == "OK", data
typ, data = M.copy("3", "Archive")
assert typ == "OK", data
typ, data = M.expunge()
assert data == [b"1"], data
typ, data = M.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nbody\r\n")
assert typ == "OK", data
typ, data = M.status("Archive", "(MESSAGES UIDNEXT)")
assert b"MESSAGES 1" in data[0], data
M.close()
M.logout()
print("ok")
`
	out := runProgram(t, time.Minute, python, "-c", script, ts.port(), testUser, testPass, testMessage(2))
	if strings.TrimSpace(out) != "ok" {
		t.Fatalf("imaplib: %s", out)
	}
}
