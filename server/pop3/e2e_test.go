package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildird/maildird/internal/dovecottest"
	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
	mdtls "github.com/maildird/maildird/tls"
)

// These tests run the POP3 server over a real Maildir and retrieve the
// mail with the POP3 clients people use.

const (
	e2eUser = "alice@example.org"
	e2ePass = "pop3 secret"
)

// realServer is a POP3 server over a real maildir.Store with real users,
// listening with STLS and with implicit TLS on 127.0.0.1.
type realServer struct {
	store              *maildir.Store
	root               string
	plainAddr, tlsAddr string
	port, tlsPort      string
	msgs               map[string]string // Message-ID -> CRLF message
}

func startRealServer(t *testing.T) *realServer {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "mail")
	store, err := maildir.Open(maildir.Options{Root: root, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	users, err := auth.Open(filepath.Join(dir, "data"), auth.Options{Domains: []string{"example.org"}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.AddUser(e2eUser, e2ePass); err != nil {
		t.Fatal(err)
	}
	cert, err := mdtls.LoadOrCreateSelfSigned(filepath.Join(dir, "tls"), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
	srv := New(Options{
		TLS: tlsConf, Store: MaildirStore{Store: store},
		Auth:   auth.NewAuthenticator(users, auth.ThrottleOptions{}),
		Logger: quietLogger(),
	})
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	implicit, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(plain)
	go srv.Serve(tls.NewListener(implicit, tlsConf))
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	rs := &realServer{store: store, root: root, plainAddr: plain.Addr().String(), tlsAddr: implicit.Addr().String(), msgs: map[string]string{}}
	_, rs.port, _ = net.SplitHostPort(rs.plainAddr)
	_, rs.tlsPort, _ = net.SplitHostPort(rs.tlsAddr)
	return rs
}

// fill delivers n messages with the shapes that trip POP3 code: lines
// starting with dots, 8-bit text, long lines, a missing final line end
// is avoided because clients disagree on how to show it.
func (rs *realServer) fill(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("<%d.pop3test@example.net>", i)
		var b strings.Builder
		fmt.Fprintf(&b, "From: Bob <bob@example.net>\r\nTo: %s\r\nSubject: message %d\r\nMessage-ID: %s\r\n", e2eUser, i, id)
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		fmt.Fprintf(&b, "Hello %d, grüße aus Köln.\r\n.\r\n..two dots\r\n.one dot\r\n", i)
		b.WriteString(strings.Repeat("long line ", i%10*9) + "\r\n") // under RFC 5322's 998
		for j := range i % 7 {
			fmt.Fprintf(&b, "body line %d\r\n", j)
		}
		msg := b.String()
		if _, err := rs.store.Deliver(e2eUser, "", strings.NewReader(msg), 0); err != nil {
			t.Fatal(err)
		}
		rs.msgs[id] = msg
	}
}

// check compares retrieved messages (after undo, a client-specific
// clean-up) with what was delivered, by Message-ID.
func (rs *realServer) check(t *testing.T, client string, got []string, undo func(string) string) {
	t.Helper()
	if len(got) != len(rs.msgs) {
		t.Errorf("%s retrieved %d messages, want %d", client, len(got), len(rs.msgs))
	}
	seen := map[string]bool{}
	for _, m := range got {
		m = undo(m)
		id := headerValue(m, "Message-ID")
		want, ok := rs.msgs[id]
		if !ok || seen[id] {
			t.Errorf("%s: unexpected or repeated message %q", client, id)
			continue
		}
		seen[id] = true
		if m != want {
			t.Errorf("%s: message %s differs:\n got %.200q\nwant %.200q", client, id, m, want)
		}
	}
}

func headerValue(msg, name string) string {
	for _, l := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return strings.TrimRight(v, "\r")
		}
	}
	return ""
}

// onDisk returns how many message files the user's INBOX holds.
func (rs *realServer) onDisk(t *testing.T) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(rs.root, "example.org", "alice", sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		n += len(entries)
	}
	return n
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// readDir returns the contents of every file in dir.
func readDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out = append(out, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func toCRLF(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// dropLeadingHeaders removes header fields a client prepends (Received:
// and its continuation lines, Delivered-To:, Return-Path:).
func dropLeadingHeaders(names ...string) func(string) string {
	return func(m string) string {
		for {
			cut := false
			for _, n := range names {
				if strings.HasPrefix(m, n+":") {
					m = m[strings.Index(m, "\r\n")+2:]
					for strings.HasPrefix(m, " ") || strings.HasPrefix(m, "\t") {
						m = m[strings.Index(m, "\r\n")+2:]
					}
					cut = true
				}
			}
			if !cut {
				return m
			}
		}
	}
}

func TestPythonPoplib(t *testing.T) {
	py := needTool(t, "python3")
	rs := startRealServer(t)
	rs.fill(t, 200)
	for _, mode := range []string{"plain", "stls", "ssl"} {
		t.Run(mode, func(t *testing.T) {
			out := t.TempDir()
			port := rs.port
			if mode == "ssl" {
				port = rs.tlsPort
			}
			script := `
import os, poplib, ssl, sys
mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl._create_unverified_context()
if mode == "ssl":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=30)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    if mode == "stls":
        p.stls(context=ctx)
p.user(sys.argv[4]); p.pass_(sys.argv[5])
count, size = p.stat()
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    with open(os.path.join(out, "%d.eml" % i), "wb") as f:
        f.write(b"".join(l + b"\r\n" for l in lines))
p.quit()
`
			run(t, exec.Command(py, "-c", script, mode, port, out, e2eUser, e2ePass))
			rs.check(t, "poplib "+mode, readDir(t, out), func(s string) string { return s })
		})
	}
	if n := rs.onDisk(t); n != 200 {
		t.Errorf("%d files on disk after keeping retrieval, want 200", n)
	}
}

func TestCurl(t *testing.T) {
	curl := needTool(t, "curl")
	rs := startRealServer(t)
	rs.fill(t, 200)
	// One curl run per port; curl reuses its connection across the
	// numbered URLs, as a client fetching a whole maildrop does.
	out := t.TempDir()
	user := e2eUser + ":" + e2ePass
	run(t, exec.Command(curl, "-sS", "-k", "--ssl-reqd", "--max-time", "60", "-u", user,
		"pop3://127.0.0.1:"+rs.port+"/[1-100]", "-o", out+"/stls-#1.eml"))
	run(t, exec.Command(curl, "-sS", "-k", "--max-time", "60", "-u", user,
		"pop3s://127.0.0.1:"+rs.tlsPort+"/[101-200]", "-o", out+"/ssl-#1.eml"))
	got := readDir(t, out)
	rs.check(t, "curl", got, func(s string) string { return s })
	// And the listing, over STLS.
	list := run(t, exec.Command(curl, "-sS", "-k", "--ssl-reqd", "--max-time", "30", "-u", e2eUser+":"+e2ePass, "pop3://127.0.0.1:"+rs.port+"/"))
	if n := strings.Count(list, "\n"); n != 200 {
		t.Errorf("curl listing has %d lines, want 200", n)
	}
}

func TestFetchmail(t *testing.T) {
	fm := needTool(t, "fetchmail")
	rs := startRealServer(t)
	rs.fill(t, 200)
	home := t.TempDir()
	// fetchmail refuses to run an MDA as root; its BSMTP output (an SMTP
	// batch file) needs none and keeps the bytes it received.
	fetch := func(name, port, options string) []string {
		out := filepath.Join(home, name+".bsmtp")
		rc := filepath.Join(home, name+".rc")
		text := fmt.Sprintf("set no syslog\npoll 127.0.0.1 protocol pop3 service %s\n  user %q password %q\n  %s bsmtp %q\n",
			port, e2eUser, e2ePass, options, out)
		if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(fm, "-f", rc, "--idfile", filepath.Join(home, name+".ids"), "--nodetach")
		cmd.Env = append(os.Environ(), "FETCHMAILHOME="+home, "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fetchmail %s: %v\n%s", name, err, out)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return splitBSMTP(t, string(b))
	}
	// fetchmail prepends a Received header of its own.
	undo := func(s string) string { return dropLeadingHeaders("Received")(toCRLF(s)) }

	kept := fetch("keep-stls", rs.port, "sslproto 'tls1.2+' no sslcertck keep fetchall")
	rs.check(t, "fetchmail keep (STLS)", kept, undo)
	if n := rs.onDisk(t); n != 200 {
		t.Fatalf("%d files after fetchmail keep, want 200", n)
	}
	taken := fetch("nokeep-ssl", rs.tlsPort, "ssl no sslcertck nokeep fetchall")
	rs.check(t, "fetchmail nokeep (995)", taken, undo)
	if n := rs.onDisk(t); n != 0 {
		t.Errorf("%d files after fetchmail nokeep, want 0", n)
	}
}

// splitBSMTP takes the messages out of a BSMTP batch: each is the
// dot-stuffed text between a DATA line and a line holding one dot.
func splitBSMTP(t *testing.T, batch string) []string {
	t.Helper()
	var out []string
	var cur []string
	inData := false
	for _, l := range strings.Split(strings.ReplaceAll(batch, "\r\n", "\n"), "\n") {
		switch {
		case !inData && l == "DATA":
			inData, cur = true, nil
		case inData && l == ".":
			out = append(out, strings.Join(cur, "\n")+"\n")
			inData = false
		case inData:
			cur = append(cur, strings.TrimPrefix(l, "."))
		}
	}
	if inData {
		t.Fatal("BSMTP batch ends inside DATA")
	}
	return out
}

func TestGetmail(t *testing.T) {
	gm := needTool(t, "getmail")
	rs := startRealServer(t)
	rs.fill(t, 200)
	dir := t.TempDir()
	md := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o700)
	}
	rc := fmt.Sprintf(`[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = %s
username = %s
password = %s
timeout = 10

[destination]
type = Maildir
path = %s/

%s
[options]
read_all = true
delete = true
delivered_to = false
received = false
message_log_verbose = false
`, rs.tlsPort, e2eUser, e2ePass, md, asUser(t, md))
	if err := os.WriteFile(filepath.Join(dir, "getmailrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	// getmail forks a child per message and can miss the child's exit
	// when it is quick (its SIGCHLD handler notifies before the parent
	// waits); it then gives up after its timeout with "waiting child pid
	// ... timed out", leaving the rest on the server. Run it again for
	// the rest, a bounded number of times, as a user would.
	for try := 0; rs.onDisk(t) > 0; try++ {
		out, err := exec.Command(gm, "--getmaildir", dir, "--rcfile", "getmailrc").CombinedOutput()
		if err == nil {
			break
		}
		if try == 4 || !strings.Contains(string(out), "waiting child pid") {
			t.Fatalf("getmail: %v\n%s", err, out)
		}
	}
	// getmail stores LF line ends and adds Return-Path. After a missed
	// child exit the message it was delivering comes again: keep one.
	got := map[string]string{}
	for _, m := range readDir(t, filepath.Join(md, "new")) {
		got[headerValue(m, "Message-ID")] = m
	}
	var unique []string
	for _, m := range got {
		unique = append(unique, m)
	}
	rs.check(t, "getmail", unique, func(s string) string {
		return dropLeadingHeaders("Return-Path")(toCRLF(s))
	})
	if n := rs.onDisk(t); n != 0 {
		t.Errorf("%d files after getmail delete, want 0", n)
	}
}

// asUser returns getmail's destination option to deliver as nobody when
// the test runs as root (getmail refuses to write a Maildir as root), and
// gives md and the directories above it to that user.
func asUser(t *testing.T, md string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return ""
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(md, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(md); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return "user = nobody\n"
}

// TestDeleteIsSeenByAnOpenMailbox: DELE+QUIT expunges through maildir, so
// another session that has the INBOX open (an IMAP client) learns it.
func TestDeleteIsSeenByAnOpenMailbox(t *testing.T) {
	rs := startRealServer(t)
	rs.fill(t, 3)
	watcher, err := rs.store.OpenMailbox(e2eUser, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()

	c := dialAddr(t, rs.plainAddr)
	c.cmd("USER "+e2eUser, "+OK")
	c.cmd("PASS "+e2ePass, "+OK logged in; 3 messages")
	c.cmd("DELE 2", "+OK")
	c.cmd("QUIT", "+OK bye (2 messages left)")

	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	if err := watcher.Wait(ctx); err != nil {
		t.Fatalf("the open mailbox was not told: %v", err)
	}
	ch, err := watcher.Sync()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Expunged, []uint32{2}) {
		t.Errorf("open mailbox saw expunged %v, want [2]", ch.Expunged)
	}
}

// TestUIDLMatchesDovecot: a real Dovecot serving the same Maildir gives
// the same UIDL for every message, so clients moving from Dovecot do not
// download their mail again.
func TestUIDLMatchesDovecot(t *testing.T) {
	rs := startRealServer(t)
	rs.fill(t, 20)
	mb, err := rs.store.OpenMailbox(e2eUser, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Expunge([]uint32{3, 7}); err != nil {
		t.Fatal(err)
	}
	mb.Close()
	ours := uidlOf(t, rs.plainAddr, e2eUser, e2ePass)

	d := dovecottest.Start(t, dovecottest.Options{MailRoot: rs.root, Users: map[string]string{e2eUser: e2ePass}})
	theirs := uidlOf(t, d.POP3Addr, e2eUser, e2ePass)
	if len(ours) != 18 || !slices.Equal(ours, theirs) {
		t.Errorf("UIDL differs:\nmaildird %q\n Dovecot %q", ours, theirs)
	}
}

func uidlOf(t *testing.T, addr, user, pass string) []string {
	t.Helper()
	c := dialAddr(t, addr)
	c.cmd("USER "+user, "+OK")
	c.cmd("PASS "+pass, "+OK")
	c.cmd("UIDL", "+OK")
	lines := c.multiline()
	c.cmd("QUIT", "+OK")
	return lines
}

func dialAddr(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect("+OK")
	return c
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
