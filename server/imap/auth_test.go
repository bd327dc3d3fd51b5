package imap

import (
	"bufio"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/maildird/maildird/server/auth"
)

func capsOf(lines []string) []string {
	for _, l := range lines {
		if strings.HasPrefix(l, "* CAPABILITY ") {
			return strings.Fields(strings.TrimPrefix(l, "* CAPABILITY "))
		}
	}
	return nil
}

// starttls upgrades a raw connection.
func (r *raw) starttls() {
	r.t.Helper()
	r.ok("STARTTLS")
	tc := tls.Client(r.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	r.conn = tc
	r.r = bufio.NewReader(tc)
}

// From another machine without TLS: LOGINDISABLED, no AUTH=, and LOGIN and
// AUTHENTICATE refused; after STARTTLS both work (DESIGN.md §5).
func TestLoginDisabledBeforeSTARTTLS(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.rawFrom("127.0.0.2", ts.addr)
	caps := capsOf(r.ok("CAPABILITY"))
	if !slices.Contains(caps, "LOGINDISABLED") || !slices.Contains(caps, "STARTTLS") || slices.Contains(caps, "AUTH=PLAIN") {
		t.Fatalf("capabilities before TLS: %q", caps)
	}
	if out := r.do("LOGIN " + testUser + ` "` + testPass + `"`); !hasLine(out, "NO [PRIVACYREQUIRED]") {
		t.Fatalf("LOGIN in clear: %q", out)
	}
	if out := r.do("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldCBwdw=="); !hasLine(out, "NO [PRIVACYREQUIRED]") {
		t.Fatalf("AUTHENTICATE in clear: %q", out)
	}
	if n := ts.auth.failures; n != 0 {
		t.Fatalf("the password was checked %d times in clear", n)
	}
	r.starttls()
	caps = capsOf(r.ok("CAPABILITY"))
	if slices.Contains(caps, "LOGINDISABLED") || slices.Contains(caps, "STARTTLS") || !slices.Contains(caps, "AUTH=PLAIN") {
		t.Fatalf("capabilities after STARTTLS: %q", caps)
	}
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
}

// From the machine itself (127.0.0.1 to 127.0.0.1), a login in clear works.
func TestLoginInClearFromSameMachine(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.raw()
	caps := capsOf(r.ok("CAPABILITY"))
	if slices.Contains(caps, "LOGINDISABLED") || !slices.Contains(caps, "AUTH=PLAIN") || !slices.Contains(caps, "STARTTLS") {
		t.Fatalf("capabilities: %q", caps)
	}
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
}

func TestAllowPlaintext(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.AllowPlaintext = true })
	r := ts.rawFrom("127.0.0.2", ts.addr)
	if caps := capsOf(r.ok("CAPABILITY")); slices.Contains(caps, "LOGINDISABLED") {
		t.Fatalf("capabilities: %q", caps)
	}
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
}

// Implicit TLS (993): logins allowed, STARTTLS not offered.
func TestImplicitTLS(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := ts.listenTLS()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(conn, nil)
	defer c.Close()
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Has(goimap.CapStartTLS) || caps.Has(goimap.CapLoginDisabled) || !caps.Has(goimap.Cap("AUTH=PLAIN")) {
		t.Fatalf("capabilities on TLS: %v", caps)
	}
	if err := c.Authenticate(sasl.NewPlainClient("", testUser, testPass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
}

// After login every extension the server implements is listed, and only
// those.
func TestCapabilitiesAfterLogin(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.MaxMessageSize = 1 << 20 })
	r := ts.raw()
	out := r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	caps := strings.Fields(out[len(out)-1])
	for _, want := range []string{"IMAP4rev1", "IMAP4rev2", "IDLE", "MOVE", "UIDPLUS", "SPECIAL-USE", "CREATE-SPECIAL-USE",
		"NAMESPACE", "UNSELECT", "ENABLE", "LITERAL-", "ESEARCH", "SEARCHRES", "LIST-EXTENDED", "LIST-STATUS",
		"STATUS=SIZE", "CHILDREN", "APPENDLIMIT=1048576", "SASL-IR"} {
		if !slices.Contains(caps, want) && !slices.Contains(caps, "[CAPABILITY") {
			t.Errorf("missing %s in %q", want, out)
		}
		if !strings.Contains(out[len(out)-1], " "+want) {
			t.Errorf("missing %s in %q", want, out)
		}
	}
	for _, bad := range []string{"LITERAL+", "CONDSTORE", "QRESYNC", "UNAUTHENTICATE", "COMPRESS=DEFLATE"} {
		if slices.Contains(caps, bad) {
			t.Errorf("advertises %s: %q", bad, out)
		}
	}
}

func TestLoginFailures(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.client()
	err := c.Login(testUser, "wrong").Wait()
	var ierr *goimap.Error
	if !asIMAPError(err, &ierr) || ierr.Code != goimap.ResponseCodeAuthenticationFailed {
		t.Fatalf("bad password: %v", err)
	}
	ts.auth.mu.Lock()
	ts.auth.err = auth.ErrThrottled
	ts.auth.mu.Unlock()
	err = c.Login(testUser, testPass).Wait()
	if !asIMAPError(err, &ierr) || ierr.Code != goimap.ResponseCodeUnavailable {
		t.Fatalf("throttled: %v", err)
	}
}

func asIMAPError(err error, target **goimap.Error) bool {
	e, ok := err.(*goimap.Error)
	if ok {
		*target = e
	}
	return ok
}

// The first login gives INBOX, Sent, Drafts, Trash, Junk and Archive with
// their roles, all subscribed.
func TestFirstLoginFolders(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.raw()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	out := r.ok(`LIST "" "*" RETURN (SUBSCRIBED SPECIAL-USE)`)
	for _, want := range []string{
		`* LIST (\Subscribed) "/" INBOX`,
		`* LIST (\Subscribed \Sent) "/" Sent`,
		`* LIST (\Subscribed \Drafts) "/" Drafts`,
		`* LIST (\Subscribed \Trash) "/" Trash`,
		`* LIST (\Subscribed \Junk) "/" Junk`,
		`* LIST (\Subscribed \Archive) "/" Archive`,
	} {
		if !slices.Contains(out, want) {
			t.Errorf("missing %q in %q", want, out)
		}
	}
	// A user who unsubscribes a folder keeps it unsubscribed.
	r.ok("UNSUBSCRIBE Junk")
	r2 := ts.raw()
	r2.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	if out := r2.ok(`LSUB "" "*"`); hasLine(out, "Junk") || !hasLine(out, "INBOX") {
		t.Fatalf("LSUB after unsubscribing Junk: %q", out)
	}
}

func TestLoginTimeout(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.LoginTimeout = 300 * time.Millisecond })
	r := ts.raw()
	start := time.Now()
	lines := r.closed(5 * time.Second)
	if !hasLine(lines, "* BYE") || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("after %v: %q", time.Since(start), lines)
	}
	// A login in time is not cut.
	r = ts.raw()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	time.Sleep(500 * time.Millisecond)
	r.ok("NOOP")
}

// Autologout after Options.Autologout without a command, but never in IDLE.
func TestAutologout(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Autologout = 800 * time.Millisecond })
	r := ts.raw()
	r.ok("LOGIN " + testUser + ` "` + testPass + `"`)
	for range 4 {
		time.Sleep(200 * time.Millisecond)
		r.ok("NOOP") // activity keeps it up
	}
	r.ok("SELECT INBOX")
	r.send("i1 IDLE")
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	time.Sleep(2 * time.Second)
	r.send("DONE")
	if l := r.line(); !strings.HasPrefix(l, "i1 OK") {
		t.Fatalf("after IDLE: %q", l)
	}
	lines := r.closed(5 * time.Second)
	if !hasLine(lines, "* BYE") {
		t.Fatalf("no BYE: %q", lines)
	}
}
