package queue

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postfix is a private Postfix started by a test as a destination MX on
// 127.0.0.1: its own config directory, queue and data directories, no
// chroot, a virtual mailbox domain delivering to Maildirs, STARTTLS with
// a self-signed certificate. Stopped with `postfix -c DIR stop`, then by
// its master's PID if it is still there.
type postfix struct {
	t      *testing.T
	dir    string
	addr   string
	domain string
}

// startPostfix starts one for domain with the given mailboxes. It skips
// the test when Postfix is missing or we are not root (its daemons need
// it), unless CI is set: then it fails.
func startPostfix(t *testing.T, domain string, users ...string) *postfix {
	t.Helper()
	for _, tool := range []string{"postfix", "postconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%s not installed (apt-get install postfix)", tool)
		}
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "a private Postfix needs root")
	}
	dir, err := os.MkdirTemp("", "postfixtest-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // the postfix and nobody users walk through it
	p := &postfix{t: t, dir: dir, domain: domain}
	t.Cleanup(func() {
		p.stop()
		os.RemoveAll(dir)
	})
	for _, sub := range []string{"etc", "vmail", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "chown", "nobody:nogroup", filepath.Join(dir, "vmail"))
	run(t, "chown", "postfix", filepath.Join(dir, "data"))
	p.writeTLS()
	var vmailbox strings.Builder
	for _, u := range users {
		fmt.Fprintf(&vmailbox, "%s@%s %s/\n", u, domain, u)
	}
	p.write("etc/vmailbox", vmailbox.String())
	for range 5 {
		port := freePort(t)
		p.addr = "127.0.0.1:" + strconv.Itoa(port)
		p.writeConfig(port)
		out, err := exec.Command("postfix", "-c", filepath.Join(dir, "etc"), "start").CombinedOutput()
		if err != nil {
			t.Fatalf("postfix start: %v\n%s\n%s", err, out, p.log())
		}
		if p.waitGreeting() {
			return p
		}
		p.stop() // the port was taken in between: again on another
	}
	t.Fatalf("Postfix did not greet on %s\n%s", p.addr, p.log())
	return nil
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (p *postfix) write(name, text string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, name), []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// writeTLS gives smtpd a certificate, so the opportunistic STARTTLS of
// the queue meets a real implementation.
func (p *postfix) writeTLS() {
	cfg, _ := selfSigned(p.t, "mx."+p.domain)
	cert := cfg.Certificates[0]
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write("etc/cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})))
	p.write("etc/key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	os.Chmod(filepath.Join(p.dir, "etc/key.pem"), 0o600)
}

var masterChroot = regexp.MustCompile(`(?m)^([a-z0-9.:]+ +[a-z-]+ +[-ny] +[-ny] +)y `)

func (p *postfix) writeConfig(port int) {
	stock, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		p.t.Fatal(err)
	}
	master := strings.Replace(string(stock), "\nsmtp      inet", fmt.Sprintf("\n127.0.0.1:%d inet", port), 1)
	master = masterChroot.ReplaceAllString(master, "${1}n ")
	p.write("etc/master.cf", master)
	d := p.dir
	p.write("etc/main.cf", fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.%[2]s
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
virtual_mailbox_domains = %[2]s
virtual_mailbox_base = %[1]s/vmail
virtual_mailbox_maps = texthash:%[1]s/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = no
smtpd_tls_security_level = may
smtpd_tls_cert_file = %[1]s/etc/cert.pem
smtpd_tls_key_file = %[1]s/etc/key.pem
smtpd_tls_received_header = yes
`, d, p.domain))
}

func (p *postfix) waitGreeting() bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("220 ")) {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func (p *postfix) masterPID() int {
	data, err := os.ReadFile(filepath.Join(p.dir, "spool", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// stop ends this Postfix: `postfix stop`, then SIGKILL to its master by
// PID if it is still alive after 10 s.
func (p *postfix) stop() {
	pid := p.masterPID()
	exec.Command("postfix", "-c", filepath.Join(p.dir, "etc"), "stop").Run()
	if pid == 0 {
		return
	}
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

func (p *postfix) log() string {
	data, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return tail(string(data), 3000)
}

// mailbox returns the messages delivered to user's Maildir.
func (p *postfix) mailbox(user string) [][]byte {
	dir := filepath.Join(p.dir, "vmail", user, "new")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var out [][]byte
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			out = append(out, data)
		}
	}
	return out
}

func TestPostfixAsDestinationMX(t *testing.T) {
	pf := startPostfix(t, "pf.test", "bob", "carol")
	f := newFixture(t)
	keys, err := LoadDKIM(t.TempDir(), []string{"home.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.opts.DKIM = keys
	f.net.host("mx.pf.test", pf.addr)
	f.net.mx("pf.test", "mx.pf.test")
	f.start()
	msg := strings.Replace(plainMsg, "bob@far.test", "bob@pf.test", 1)
	f.send("alice@home.test", []string{"bob@pf.test", "carol@pf.test", "nobody@pf.test"}, msg, MessageOptions{Sign: true})
	f.waitEmpty()
	if n := strings.Count(f.logs.String(), "queue: connected"); n != 1 {
		t.Fatalf("%d connections to Postfix, want 1 for the three recipients", n)
	}
	if !strings.Contains(f.logs.String(), "tls=\"starttls TLS1.3 unverified\"") {
		t.Fatalf("no STARTTLS with Postfix:\n%s", f.logs)
	}
	for _, u := range []string{"bob", "carol"} {
		var got [][]byte
		deadline := time.Now().Add(20 * time.Second)
		for len(got) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			got = pf.mailbox(u)
		}
		if len(got) != 1 {
			t.Fatalf("%s has %d messages in Postfix's Maildir, want 1\n%s", u, len(got), pf.log())
		}
		if !bytes.Contains(got[0], []byte("Hello Bob.")) || !bytes.Contains(got[0], []byte("mx.pf.test")) {
			t.Fatalf("%s's copy:\n%s", u, got[0])
		}
		// The copy Postfix stored (LF line ends, its own Received on top)
		// still verifies with both keys.
		verifyDKIM(t, keys, bytes.ReplaceAll(got[0], []byte("\n"), []byte("\r\n")), 2)
	}
	// Postfix refused nobody@ at RCPT: a DSN in alice's Maildir.
	inbox := f.inbox("alice@home.test")
	if len(inbox) != 1 {
		t.Fatalf("%d DSNs for alice, want 1", len(inbox))
	}
	st := parseDSN(t, inbox[0])["nobody@pf.test"]
	if st.action != "failed" || !strings.HasPrefix(st.status, "5.1.") || !strings.Contains(st.diagnostic, "550") {
		t.Fatalf("DSN for nobody@pf.test: %+v", st)
	}
}
