package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse("test.ini", strings.NewReader(text))
}

const minimal = "[server]\ndomains = example.org\n"

func TestDefaultsThenFile(t *testing.T) {
	c, err := parse(t, `[server]
hostname = Mail.Example.ORG
domains = Example.org, example.net.
data_dir = /srv/md

[listen]
smtp =
imap = 127.0.0.1:1143

[limits]
max_message_size = 10M ; ten mebibytes
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Hostname != "mail.example.org" {
		t.Errorf("hostname %q", c.Server.Hostname)
	}
	if !reflect.DeepEqual(c.Server.Domains, []string{"example.org", "example.net"}) {
		t.Errorf("domains %q", c.Server.Domains)
	}
	if c.Storage.MailRoot != "/srv/md/mail" {
		t.Errorf("mail_root default %q, want <data_dir>/mail", c.Storage.MailRoot)
	}
	if c.Limits.MaxMessageSize != 10<<20 {
		t.Errorf("max_message_size %d", c.Limits.MaxMessageSize)
	}
	if c.Limits.MaxRecipients != 100 || c.Delivery.SmarthostTLS != "auto" || c.TLS.Mode != "autocert" {
		t.Errorf("defaults not kept: %+v", c)
	}
	var names []string
	for _, l := range c.Listeners() {
		names = append(names, l.Name+"="+l.Addr)
	}
	want := "submission=:587 submissions=:465 imap=127.0.0.1:1143 imaps=:993 pop3=:110 pop3s=:995 http=:80"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("listeners %s, want %s", got, want)
	}
	if !c.IsLocalDomain("EXAMPLE.NET.") || c.IsLocalDomain("example.com") {
		t.Error("IsLocalDomain")
	}
}

func TestErrorsNameFileLineAndWhatToDo(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		want       string
	}{
		{"unknown section", minimal + "[smtpd]\n", 3, "unknown section [smtpd]"},
		{"unknown key", minimal + "[listen]\nimap4 = :143\n", 4, `unknown key "imap4" in [listen]`},
		{"key before section", "domains = x\n", 1, "before any [section]"},
		{"not key value", minimal + "[limits]\nmax_message_size\n", 4, "not a 'key = value' line"},
		{"bad port", minimal + "[listen]\nsmtp = :99999\n", 4, `bad port "99999"`},
		{"port not a number", minimal + "[listen]\nimap = :imap\n", 4, "bad port"},
		{"no port", minimal + "[listen]\npop3 = 127.0.0.1\n", 4, "not host:port"},
		{"host not an address", minimal + "[listen]\npop3 = mail.example.org:110\n", 4, "not an IP address"},
		{"same address twice", minimal + "[listen]\nimap = :2000\npop3 = :2000\n", 5, "both listen on :2000"},
		{"bad size", minimal + "[limits]\nmax_message_size = 25XB\n", 4, `unknown size unit "XB"`},
		{"size not a number", minimal + "[limits]\nmax_message_size = lots\n", 4, "not a size"},
		{"size too small", minimal + "[limits]\nmax_message_size = 12\n", 4, "between 1K and 2G"},
		{"bad int", minimal + "[limits]\nmax_recipients = many\n", 4, "not a whole number"},
		{"zero recipients", minimal + "[limits]\nmax_recipients = 0\n", 4, "between 1 and 10000"},
		{"bad bool", minimal + "[auth]\nallow_plaintext = maybe\n", 4, "write yes or no"},
		{"bad tls mode", minimal + "[tls]\nmode = acme\n", 4, `unknown tls mode "acme"`},
		{"files without cert", minimal + "[tls]\nmode = files\n", 4, "mode = files needs cert"},
		{"missing cert file", minimal + "[tls]\nmode = files\ncert = /nonexistent/fullchain.pem\nkey = /nonexistent/privkey.pem\n", 5, "cert file /nonexistent/fullchain.pem: no such file"},
		{"no domains", "[server]\nhostname = mail.example.org\n", 0, "domains is empty"},
		{"bad domain", "[server]\ndomains = exa mple.org\n", 2, "not a domain name"},
		{"duplicate domain", "[server]\ndomains = a.org, A.org\n", 2, "listed twice"},
		{"bad hostname", minimal + "hostname = mail_1.example.org\n", 3, "not a host name"},
		{"key twice", minimal + "domains = example.net\n", 3, "set twice (first on line 2)"},
		{"bad smarthost", minimal + "[delivery]\nsmarthost = relay.example.net\n", 4, "not host:port"},
		{"bad smarthost_tls", minimal + "[delivery]\nsmarthost_tls = yes\n", 4, "unknown smarthost_tls"},
		{"user without password", minimal + "[delivery]\nsmarthost = relay.example.net:587\nsmarthost_user = me\n", 5, "go together"},
		{"bad log level", minimal + "[log]\nlevel = verbose\n", 4, "unknown log level"},
		{"bad log format", minimal + "[log]\nformat = xml\n", 4, "unknown log format"},
		{"unclosed quote", minimal + "[delivery]\nsmarthost_password = \"abc\n", 4, "no closing"},
		{"unclosed section", minimal + "[listen\n", 3, "no closing ']'"},
		{"binary file", minimal + strings.Repeat("x", 5000) + "\n", 3, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ce.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", ce.Line, tc.line, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%q does not say %q", msg, tc.want)
			}
			prefix := "test.ini: "
			if tc.line > 0 {
				prefix = "test.ini:" + strconv.Itoa(tc.line) + ": "
			}
			if !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "\n") {
				t.Errorf("%q is not one line starting with %q", msg, prefix)
			}
		})
	}
}

func TestQuotesAndComments(t *testing.T) {
	c, err := parse(t, "\ufeff"+minimal+`# a comment
; another
[delivery] ; trailing comment on a header
smarthost = relay.example.net:465 # hash comment
smarthost_user = me@example.net
smarthost_password = "pa ;ss \"word\" \\ #x" ; the quotes keep ' ;'
[tls]
acme_email = admin@example.org;not-a-comment
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivery.Smarthost != "relay.example.net:465" {
		t.Errorf("smarthost %q", c.Delivery.Smarthost)
	}
	if c.Delivery.SmarthostPassword != `pa ;ss "word" \ #x` {
		t.Errorf("password %q", c.Delivery.SmarthostPassword)
	}
	if c.TLS.ACMEEmail != "admin@example.org;not-a-comment" {
		t.Errorf("a ';' without a space before it is part of the value, got %q", c.TLS.ACMEEmail)
	}
	if strings.Contains(c.String(), "pa ;ss") {
		t.Error("String shows the smarthost password")
	}
}

func TestRelativePathsAreFromTheFile(t *testing.T) {
	c, err := Parse("/etc/maildird/config.ini", strings.NewReader(minimal+"data_dir = data\n[storage]\nmail_root = ../mail\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.DataDir != "/etc/maildird/data" || c.Storage.MailRoot != "/etc/mail" {
		t.Errorf("data_dir %q mail_root %q", c.Server.DataDir, c.Storage.MailRoot)
	}
}

func TestFilesModeWithExistingFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.ini")
	os.WriteFile(path, []byte(minimal+"[tls]\nmode = files\ncert = c.pem\nkey = k.pem\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Cert != filepath.Join(dir, "c.pem") {
		t.Errorf("cert %q", c.TLS.Cert)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/maildird.ini")
	if err == nil || !strings.HasPrefix(err.Error(), "/nonexistent/maildird.ini: cannot read") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{"0": 0, "512": 512, "1K": 1024, "25M": 25 << 20, "25MB": 25 << 20,
		"25 mib": 25 << 20, "2G": 2 << 30, "3kb": 3072, "10B": 10}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1M", "1.5M", "25 XB", "99999999999999999999", "9000000000G"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestLocalIsSafe(t *testing.T) {
	c := Local("/tmp/md-data")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners()) != 8 {
		t.Errorf("Local has %d listeners, want all 8", len(c.Listeners()))
	}
	for _, l := range c.Listeners() {
		if !strings.HasPrefix(l.Addr, "127.0.0.1:") || l.Addr < "127.0.0.1:1024" {
			t.Errorf("%s listens on %s: want 127.0.0.1 and a port above 1023", l.Name, l.Addr)
		}
	}
	if c.TLS.Mode != TLSSelfSigned || !c.IsLocalDomain("localhost") || c.Storage.MailRoot != "/tmp/md-data/mail" {
		t.Errorf("Local: %+v", c)
	}
}

// TestExampleCoversEveryKey keeps config.ini.example and Config from
// drifting: every key must be in the file, the file must load, and the
// values it shows must be the defaults (except the [server] and [storage]
// examples, which are placeholders the reader replaces).
func TestExampleCoversEveryKey(t *testing.T) {
	path := filepath.Join("..", "..", "config.ini.example")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("config.ini.example does not load: %v", err)
	}
	section := ""
	present := map[string]bool{}
	keyLine := regexp.MustCompile(`^([a-z0-9_]+)\s*=`)
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(strings.Fields(line)[0], "[]")
		} else if m := keyLine.FindStringSubmatch(line); m != nil {
			present[section+"."+m[1]] = true
		}
	}
	for _, k := range Keys() {
		if !present[k] {
			t.Errorf("config.ini.example lacks %s", k)
		}
	}
	if len(present) != len(Keys()) {
		t.Errorf("config.ini.example has %d keys, the loader knows %d", len(present), len(Keys()))
	}

	d := Defaults()
	d.Server, d.Storage, d.File = c.Server, c.Storage, c.File
	if !reflect.DeepEqual(c, d) {
		t.Errorf("config.ini.example shows values other than the defaults:\n got %+v\nwant %+v", c, d)
	}
}

// TestHTTPSListener: https is off unless set, and once set it is a
// listener like the others (last in order, checked for clashes).
func TestHTTPSListener(t *testing.T) {
	c, err := parse(t, minimal)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Listeners() {
		if l.Name == "https" {
			t.Errorf("https on by default at %s", l.Addr)
		}
	}
	c, err = parse(t, minimal+"[listen]\nhttps = :443\n")
	if err != nil {
		t.Fatal(err)
	}
	ls := c.Listeners()
	if last := ls[len(ls)-1]; last != (Listener{"https", ":443"}) {
		t.Errorf("last listener %+v, want https=:443", last)
	}
	if _, err := parse(t, minimal+"[listen]\nhttps = :80\n"); err == nil || !strings.Contains(err.Error(), "http and https both listen on :80") {
		t.Errorf("https on the http port: %v", err)
	}
}
