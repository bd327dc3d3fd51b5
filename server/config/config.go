// Package config loads maildird's INI configuration strictly: defaults,
// then the file, then validation. Anything it does not understand is an
// error naming the file, the line and what to do, because a mail server
// that silently ignores a misspelt key is a mail server that silently
// relays, drops or refuses mail.
//
// The parser is our own (parse.go): the format is a dozen keys in eight
// sections, and the libraries on offer are lenient by design (unknown keys
// ignored, values coerced), which is the opposite of what is wanted here.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Config is the whole configuration. Field tags name the INI key; the
// second tag element says how the value is parsed (list, size, bool, int,
// listen); plain strings have none.
type Config struct {
	File     string   `ini:"-"` // the file it was loaded from; "" for built-in configs
	Server   Server   `ini:"server"`
	Storage  Storage  `ini:"storage"`
	Listen   Listen   `ini:"listen"`
	TLS      TLS      `ini:"tls"`
	Delivery Delivery `ini:"delivery"`
	Auth     Auth     `ini:"auth"`
	Limits   Limits   `ini:"limits"`
	Log      Log      `ini:"log"`
}

// Server is the [server] section.
type Server struct {
	Hostname string   `ini:"hostname"`
	Domains  []string `ini:"domains,list"`
	DataDir  string   `ini:"data_dir,path"`
}

// Storage is the [storage] section.
type Storage struct {
	MailRoot string `ini:"mail_root,path"` // "" in the file means <data_dir>/mail
}

// Listen is the [listen] section; an empty address turns a listener off.
type Listen struct {
	SMTP        string `ini:"smtp,listen"`
	Submission  string `ini:"submission,listen"`
	Submissions string `ini:"submissions,listen"`
	IMAP        string `ini:"imap,listen"`
	IMAPS       string `ini:"imaps,listen"`
	POP3        string `ini:"pop3,listen"`
	POP3S       string `ini:"pop3s,listen"`
	HTTP        string `ini:"http,listen"`
	HTTPS       string `ini:"https,listen"` // off by default: port 443 is often another web server's
}

// TLS is the [tls] section.
type TLS struct {
	Mode          string `ini:"mode"`
	Cert          string `ini:"cert,path"`
	Key           string `ini:"key,path"`
	ACMEEmail     string `ini:"acme_email"`
	ACMEDirectory string `ini:"acme_directory"`
}

// Delivery is the [delivery] section.
type Delivery struct {
	Smarthost         string `ini:"smarthost"`
	SmarthostTLS      string `ini:"smarthost_tls"`
	SmarthostUser     string `ini:"smarthost_user"`
	SmarthostPassword string `ini:"smarthost_password"`
}

// Auth is the [auth] section.
type Auth struct {
	AllowPlaintext bool `ini:"allow_plaintext,bool"`
}

// Limits is the [limits] section.
type Limits struct {
	MaxMessageSize int64 `ini:"max_message_size,size"`
	MaxRecipients  int   `ini:"max_recipients,int"`
	MaxConnsPerIP  int   `ini:"max_connections_per_ip,int"`
}

// Log is the [log] section.
type Log struct {
	Level  string `ini:"level"`
	Format string `ini:"format"`
}

// TLS modes.
const (
	TLSAutocert   = "autocert"
	TLSFiles      = "files"
	TLSSelfSigned = "selfsigned"
	TLSOff        = "off"
)

// Smarthost TLS modes.
const (
	SmarthostAuto     = "auto"
	SmarthostImplicit = "implicit"
	SmarthostSTARTTLS = "starttls"
)

// DefaultACMEDirectory is Let's Encrypt's production directory.
const DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// Defaults is the configuration a file starts from: the production ports
// of DESIGN.md. Domains is empty: a file must name its domains.
func Defaults() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Config{
		Server: Server{Hostname: strings.ToLower(host), DataDir: "/var/lib/maildird"},
		Listen: Listen{
			SMTP: ":25", Submission: ":587", Submissions: ":465",
			IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995", HTTP: ":80",
		},
		TLS:      TLS{Mode: TLSAutocert, ACMEDirectory: DefaultACMEDirectory},
		Delivery: Delivery{SmarthostTLS: SmarthostAuto},
		Limits:   Limits{MaxMessageSize: 25 << 20, MaxRecipients: 100, MaxConnsPerIP: 20},
		Log:      Log{Level: "info", Format: "text"},
	}
}

// Local is the built-in configuration used without -config: no root, no
// DNS, nothing reachable from another machine. dataDir should be absolute.
func Local(dataDir string) *Config {
	c := Defaults()
	c.Server.Hostname = "localhost"
	c.Server.Domains = []string{"localhost"}
	c.Server.DataDir = dataDir
	c.Storage.MailRoot = filepath.Join(dataDir, "mail")
	c.Listen = Listen{
		SMTP: "127.0.0.1:2525", Submission: "127.0.0.1:2587", Submissions: "127.0.0.1:2465",
		IMAP: "127.0.0.1:2143", IMAPS: "127.0.0.1:2993",
		POP3: "127.0.0.1:2110", POP3S: "127.0.0.1:2995", HTTP: "127.0.0.1:2080",
	}
	c.TLS.Mode = TLSSelfSigned
	return c
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the configuration: %v", unwrapPathError(err))}
	}
	defer f.Close()
	return Parse(path, f)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Listener is one configured listen address.
type Listener struct {
	Name string // the [listen] key: smtp, submission, ...
	Addr string
}

// Listeners returns the listeners that are on, in a fixed order.
func (c *Config) Listeners() []Listener {
	all := []Listener{
		{"smtp", c.Listen.SMTP}, {"submission", c.Listen.Submission}, {"submissions", c.Listen.Submissions},
		{"imap", c.Listen.IMAP}, {"imaps", c.Listen.IMAPS},
		{"pop3", c.Listen.POP3}, {"pop3s", c.Listen.POP3S}, {"http", c.Listen.HTTP},
		{"https", c.Listen.HTTPS},
	}
	on := all[:0]
	for _, l := range all {
		if l.Addr != "" {
			on = append(on, l)
		}
	}
	return on
}

// IsLocalDomain reports whether domain is one of the local mail domains.
func (c *Config) IsLocalDomain(domain string) bool {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	for _, d := range c.Server.Domains {
		if d == domain {
			return true
		}
	}
	return false
}
