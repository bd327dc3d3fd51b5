package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mailServer is the binary serving SMTP (MX), POP3S and IMAP on free
// 127.0.0.1 ports, with users alice and bob.
type mailServer struct {
	proc                     *serveProc
	smtp, pop3s, imap, imaps string
}

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	cfg, _ := writeConfig(t, "")
	for _, u := range []string{"alice@example.org", "bob@example.org"} {
		add := exec.Command(binPath, "-config", cfg, "user", "add", u)
		add.Stdin = strings.NewReader("secret " + u + "\n")
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("user add: %v %s", err, out)
		}
	}
	proc, ports := serveOnFreePorts(t, cfg, "smtp", "pop3s", "imap", "imaps")
	m := &mailServer{proc: proc, smtp: ports["smtp"], pop3s: ports["pop3s"], imap: ports["imap"], imaps: ports["imaps"]}
	for _, svc := range []string{"smtp", "imap", "imaps", "pop3s"} {
		if l := m.proc.waitFor(t, "service="+svc+" "); strings.Contains(l, "status=") {
			t.Fatalf("%s listener: %q", svc, l)
		}
	}
	return m
}

// python runs a python3 script with the server's ports in the
// environment and returns its output; the script fails the test by
// raising.
func (m *mailServer) python(t *testing.T, script string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	cmd := exec.Command(py, "-c", pyPrelude+script)
	cmd.Env = append(os.Environ(), "SMTP_PORT="+m.smtp, "IMAP_PORT="+m.imap, "IMAPS_PORT="+m.imaps, "POP3S_PORT="+m.pop3s)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return string(out)
}

const pyPrelude = `
import imaplib, os, poplib, smtplib, ssl, time
ctx = ssl._create_unverified_context()
def send(sender, rcpts, subject):
    s = smtplib.SMTP("127.0.0.1", int(os.environ["SMTP_PORT"]), timeout=30)
    msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (sender, ", ".join(rcpts), subject)
    s.sendmail(sender, rcpts, msg)
    s.quit()
def login(user):
    m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["IMAPS_PORT"]), ssl_context=ctx, timeout=30)
    m.login(user, "secret " + user)
    return m
def subjects(m, folder):
    typ, data = m.select(folder)
    assert typ == "OK", (folder, typ, data)
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-SPAM-STATUS)])") if int(data[0]) else ("OK", [])
    out = []
    for item in data:
        if isinstance(item, tuple):
            h = item[1].decode()
            s = [l[9:] for l in h.splitlines() if l.startswith("Subject: ")][0]
            out.append(s + (" [spam]" if "X-Spam-Status: Yes" in h else ""))
    return out
`

// TestServeIMAPFirstLoginAndFolders: a phone's first login finds the
// special-use folders, subscribed (with INBOX: six), and mail sent over
// SMTP.
func TestServeIMAPFirstLoginAndFolders(t *testing.T) {
	m := startMailServer(t)
	out := m.python(t, `
send("carol@elsewhere.example", ["alice@example.org"], "first")
m = login("alice@example.org")
typ, data = m.list()
print("\n".join(sorted(l.decode() for l in data)))
typ, data = m.lsub()
print("LSUB", len(data))
print("INBOX", subjects(m, "INBOX"))
m.logout()
`)
	for _, want := range []string{`\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, "LSUB 6", "INBOX ['first']"} {
		if !strings.Contains(out, want) {
			t.Errorf("first login output lacks %q:\n%s", want, out)
		}
	}
	m.proc.stop(t, syscall.SIGTERM)
}

// TestServeSpamButton is the Spam button with python3's imaplib: moving a
// message to Junk sends the sender's next message to Junk (for alice, not
// for bob), and moving it back lets the third one reach the inbox.
func TestServeSpamButton(t *testing.T) {
	m := startMailServer(t)
	out := m.python(t, `
send("spammer@spam.example", ["alice@example.org", "bob@example.org"], "one")
a = login("alice@example.org")
a.select("INBOX")
typ, data = a.uid("MOVE", "1:*", "Junk")
assert typ == "OK", data
send("spammer@spam.example", ["alice@example.org", "bob@example.org"], "two")
print("alice Junk", subjects(a, "Junk"))
print("alice INBOX", subjects(a, "INBOX"))
b = login("bob@example.org")
print("bob INBOX", subjects(b, "INBOX"))
a.select("Junk")
typ, data = a.uid("SEARCH", "SUBJECT", "two")
typ, data = a.uid("MOVE", data[0].decode(), "INBOX")
assert typ == "OK", data
send("spammer@spam.example", ["alice@example.org"], "three")
print("alice INBOX after", subjects(a, "INBOX"))
`)
	for _, want := range []string{
		"alice Junk ['one', 'two [spam]']", "alice INBOX []", "bob INBOX ['one', 'two']",
		"alice INBOX after ['two [spam]', 'three']",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	m.proc.stop(t, syscall.SIGTERM)
}

// TestServePOP3DeleteSeenByIMAP: a live IMAP session learns of an expunge
// made by POP3's DELE and QUIT, and nothing else changes.
func TestServePOP3DeleteSeenByIMAP(t *testing.T) {
	m := startMailServer(t)
	out := m.python(t, `
for i in range(3):
    send("carol@elsewhere.example", ["alice@example.org"], "m%d" % i)
i = login("alice@example.org")
typ, data = i.select("INBOX")
print("before", data)
p = poplib.POP3_SSL("127.0.0.1", int(os.environ["POP3S_PORT"]), context=ctx, timeout=30)
p.user("alice@example.org"); p.pass_("secret alice@example.org")
p.dele(2)
p.quit()
seen = []
for _ in range(20):
    typ, data = i.noop()
    seen += [r for r in i.untagged_responses.pop("EXPUNGE", [])]
    if seen: break
    time.sleep(0.25)
print("expunged", [s.decode() for s in seen])
print("left", subjects(i, "INBOX"))
`)
	for _, want := range []string{"before [b'3']", "expunged ['2']", "left ['m0', 'm2']"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	m.proc.stop(t, syscall.SIGTERM)
}

// TestServeSpamButtonWithMbsync presses the Spam button the way a syncing
// client does: mbsync mirrors INBOX and Junk, the message file is moved
// between the local folders, and the next sync uploads it (APPEND) and
// expunges the original.
func TestServeSpamButtonWithMbsync(t *testing.T) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mbsync is not installed (CI installs isync)")
		}
		t.Skip("mbsync is not installed")
	}
	m := startMailServer(t)
	local := t.TempDir()
	rc := filepath.Join(local, "mbsyncrc")
	conf := `IMAPAccount acct
Host 127.0.0.1
Port ` + m.imap + `
User alice@example.org
Pass "secret alice@example.org"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account acct

MaildirStore near
Path ` + local + `/mail/
Inbox ` + local + `/mail/INBOX
SubFolders Verbatim

Channel mail
Far :remote:
Near :near:
Patterns INBOX Junk
Create Both
Expunge Both
SyncState *
`
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(local, "mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	sync := func() {
		t.Helper()
		cmd := exec.Command(mbsync, "-c", rc, "-a")
		cmd.Env = append(os.Environ(), "HOME="+local)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	// moveLocal moves the one message file of folder from to folder to,
	// dropping mbsync's ",U=" (a moved file is a new message there).
	moveLocal := func(from, to string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(local, "mail", from, "cur", "*"))
		news, _ := filepath.Glob(filepath.Join(local, "mail", from, "new", "*"))
		files = append(files, news...)
		if len(files) != 1 {
			t.Fatalf("local %s holds %d messages, want 1", from, len(files))
		}
		name := filepath.Base(files[0])
		if i := strings.Index(name, ",U="); i >= 0 {
			j := strings.IndexAny(name[i+1:], ",:")
			name = name[:i] + name[i+1+j:]
		}
		if err := os.Rename(files[0], filepath.Join(local, "mail", to, "cur", name)); err != nil {
			t.Fatal(err)
		}
	}

	m.python(t, `send("spammer@spam.example", ["alice@example.org"], "one")`)
	sync()
	moveLocal("INBOX", "Junk")
	sync()
	out := m.python(t, `
send("spammer@spam.example", ["alice@example.org"], "two")
a = login("alice@example.org")
print("Junk", subjects(a, "Junk"))
print("INBOX", subjects(a, "INBOX"))
`)
	if !strings.Contains(out, "Junk ['one', 'two [spam]']") || !strings.Contains(out, "INBOX []") {
		t.Fatalf("after mbsync moved the message to Junk:\n%s", out)
	}

	// Moving the marked message back out of Junk allows the sender.
	sync()
	files, _ := filepath.Glob(filepath.Join(local, "mail", "Junk", "*", "*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "Subject: one") {
			os.Remove(f) // keep only "two" to move
		}
	}
	moveLocal("Junk", "INBOX")
	sync()
	out = m.python(t, `
send("spammer@spam.example", ["alice@example.org"], "three")
a = login("alice@example.org")
print("INBOX", subjects(a, "INBOX"))
`)
	if !strings.Contains(out, "INBOX ['two [spam]', 'three']") {
		t.Errorf("after mbsync moved the message back:\n%s", out)
	}
	m.proc.stop(t, syscall.SIGTERM)
}
