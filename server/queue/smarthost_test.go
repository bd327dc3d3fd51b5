package queue

import (
	"bytes"
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
)

// smarthostFixture routes smarthost.test:port to a go-smtp server that
// requires TLS and AUTH.
func smarthostFixture(t *testing.T, port string, o remoteOptions, trust bool) (*fixture, *remote) {
	t.Helper()
	cfg, pool := selfSigned(t, "smarthost.test")
	if o.tls == nil {
		o.tls = cfg
	}
	r := newRemote(t, o)
	r.users = map[string]string{"home": "s3cret"}
	f := newFixture(t)
	f.net.routes["smarthost.test:"+port] = r.addr
	f.opts.Resolver = nil // a smarthost needs no DNS here
	f.opts.Smarthost = Smarthost{Addr: "smarthost.test:" + port, TLS: "auto", User: "home", Password: "s3cret"}
	if trust {
		f.opts.RootCAs = pool
	} else {
		f.opts.RootCAs = x509.NewCertPool() // trusts nothing
	}
	return f, r
}

func TestSmarthostImplicitTLSAndAuthPlain(t *testing.T) {
	f, r := smarthostFixture(t, "465", remoteOptions{implicit: true}, true)
	f.start()
	f.send("alice@home.test", []string{"bob@far.test", "x@other.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	got := r.messages()
	if len(got) != 2 {
		t.Fatalf("%d messages at the smarthost, want 2 (one per domain)", len(got))
	}
	for _, m := range got {
		if !m.tls || m.user != "home" {
			t.Fatalf("message over tls=%v as %q, want TLS and the login", m.tls, m.user)
		}
	}
	if r.authed[0] != "PLAIN:home" {
		t.Fatalf("logins %v, want PLAIN", r.authed)
	}
	if len(f.net.dns.Queries) != 0 {
		t.Fatalf("DNS asked %v in smarthost mode", f.net.dns.Queries)
	}
}

func TestSmarthostSTARTTLSAndAuthLogin(t *testing.T) {
	f, r := smarthostFixture(t, "587", remoteOptions{}, true)
	r.mechs = []string{sasl.Login}
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitEmpty()
	if got := r.messages(); len(got) != 1 || !got[0].tls || got[0].user != "home" {
		t.Fatalf("got %+v, want one message over STARTTLS after login", got)
	}
	if r.authed[0] != "LOGIN:home" {
		t.Fatalf("logins %v, want LOGIN", r.authed)
	}
}

func TestSmarthostNeverInClearText(t *testing.T) {
	f, r := smarthostFixture(t, "587", remoteOptions{}, true)
	r.srv.TLSConfig = nil // STARTTLS not offered
	f.start()
	id := f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitFor("a deferral", func() bool { return strings.Contains(f.logs.String(), "delivery deferred") })
	if len(r.messages()) != 0 || len(r.authed) != 0 {
		t.Fatal("sent or logged in without TLS")
	}
	if !strings.Contains(f.logs.String(), "does not offer STARTTLS") {
		t.Fatalf("reason not logged:\n%s", f.logs)
	}
	if env, err := f.q.spool.ReadEnvelope(id); err != nil || env.Rcpts[0].State != StatePending {
		t.Fatalf("message not kept: %+v %v", env, err)
	}
}

func TestSmarthostCertificateVerified(t *testing.T) {
	for _, port := range []string{"465", "587"} {
		t.Run(port, func(t *testing.T) {
			f, r := smarthostFixture(t, port, remoteOptions{implicit: port == "465"}, false)
			f.start()
			f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
			f.waitFor("a deferral", func() bool { return strings.Contains(f.logs.String(), "delivery deferred") })
			if len(r.messages()) != 0 || len(r.authed) != 0 {
				t.Fatal("sent to a smarthost whose certificate does not verify")
			}
			if !strings.Contains(f.logs.String(), "certificate") {
				t.Fatalf("no certificate error logged:\n%s", f.logs)
			}
		})
	}
}

func TestSmarthostBadPasswordRetried(t *testing.T) {
	f, r := smarthostFixture(t, "465", remoteOptions{implicit: true}, true)
	f.opts.Smarthost.Password = "wrong"
	f.start()
	id := f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	f.waitFor("a deferral", func() bool { return strings.Contains(f.logs.String(), "delivery deferred") })
	if len(r.messages()) != 0 {
		t.Fatal("sent without a login")
	}
	// A wrong password is the admin's to fix: the mail waits, no bounce.
	if env, err := f.q.spool.ReadEnvelope(id); err != nil || env.Rcpts[0].State != StatePending {
		t.Fatalf("message not kept: %+v %v", env, err)
	}
}

func TestDKIMSignedWithBothKeys(t *testing.T) {
	f := newFixture(t)
	keys, err := LoadDKIM(t.TempDir(), []string{"home.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.opts.DKIM = keys
	r := newRemote(t, remoteOptions{})
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.start()
	f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{Sign: true})
	f.send("alice@home.test", []string{"bob@far.test"}, strings.Replace(plainMsg, "Subject: hello", "Subject: unsigned", 1), MessageOptions{})
	f.send("eve@elsewhere.test", []string{"bob@far.test"}, strings.Replace(plainMsg, "alice@home.test", "eve@elsewhere.test", 1), MessageOptions{Sign: true})
	f.waitEmpty()
	got := r.messages()
	if len(got) != 3 {
		t.Fatalf("%d messages", len(got))
	}
	verifyDKIM(t, keys, got[0].data, 2)
	if bytes.Contains(got[1].data, []byte("DKIM-Signature")) {
		t.Fatal("a message queued without Sign was signed")
	}
	if bytes.Contains(got[2].data, []byte("DKIM-Signature")) {
		t.Fatal("a message from a foreign domain was signed")
	}
}

// verifyDKIM checks that msg carries want valid signatures of home.test,
// one Ed25519 and one RSA, looking the keys up in keys' DNS records.
func verifyDKIM(t *testing.T, keys *DKIM, msg []byte, want int) {
	t.Helper()
	records := map[string]string{}
	for _, r := range keys.Records("home.test") {
		records[r.Name] = r.Value
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := records[strings.TrimSuffix(name, ".")]; ok {
				return []string{v}, nil
			}
			return nil, &dkimNotFound{name}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != want {
		t.Fatalf("%d signatures, want %d", len(vs), want)
	}
	algos := map[string]bool{}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "home.test" {
			t.Fatalf("signature of %s: %v", v.Domain, v.Err)
		}
	}
	for _, a := range []string{"a=ed25519-sha256", "a=rsa-sha256"} {
		if bytes.Contains(msg, []byte(a)) {
			algos[a] = true
		}
	}
	if len(algos) != 2 || !bytes.Contains(msg, []byte("c=relaxed/relaxed")) {
		t.Fatalf("want Ed25519 and RSA signatures, relaxed/relaxed:\n%s", msg[:min(len(msg), 2000)])
	}
}

type dkimNotFound struct{ name string }

func (e *dkimNotFound) Error() string { return "no TXT for " + e.name }

func TestDKIMKeysMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadDKIM(dir, []string{"home.test", "Other.test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadDKIM(dir, []string{"home.test", "other.test"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Records("other.test")[1].Value != b.Records("other.test")[1].Value {
		t.Fatal("the keys changed on the second load")
	}
	recs := a.Records("home.test")
	if len(recs) != 2 || recs[0].Name != "maildird-ed25519._domainkey.home.test" || !strings.HasPrefix(recs[0].Value, "v=DKIM1; k=ed25519; p=") ||
		recs[1].Name != "maildird-rsa._domainkey.home.test" || !strings.HasPrefix(recs[1].Value, "v=DKIM1; k=rsa; p=MII") {
		t.Fatalf("records %+v", recs)
	}
	if _, err := LoadDKIM(dir, []string{"../evil"}); err == nil {
		t.Fatal("a domain with a slash was accepted as a file name")
	}
	_ = context.Background
	_ = time.Second
}
