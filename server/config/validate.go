package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Validate checks a configuration built in code (Local, or a test's).
// Files are validated by Parse, which can also name the line.
func (c *Config) Validate() error {
	p := &parser{file: c.File, cfg: c, lines: map[string]int{}}
	if p.file == "" {
		p.file = "built-in configuration"
	}
	return p.validate()
}

// validate checks the values that depend on each other or on the system,
// after the whole file has been read.
func (p *parser) validate() error {
	c := p.cfg
	checks := []func(*Config) error{
		p.checkServer, p.checkListen, p.checkTLS, p.checkDelivery, p.checkLimits, p.checkLog,
	}
	for _, check := range checks {
		if err := check(c); err != nil {
			return err
		}
	}
	if c.Storage.MailRoot == "" {
		c.Storage.MailRoot = filepath.Join(c.Server.DataDir, "mail")
	}
	return nil
}

// at is an error on the line that set section.key (or the file, when the
// value is a default).
func (p *parser) at(key, format string, args ...any) *Error {
	return p.errorf(p.lines[key], key, format, args...)
}

func (p *parser) checkServer(c *Config) error {
	if !validHostname(c.Server.Hostname) {
		return p.at("server.hostname", "hostname %q is not a host name; write the server's DNS name, such as mail.example.org", c.Server.Hostname)
	}
	c.Server.Hostname = strings.ToLower(c.Server.Hostname)
	if len(c.Server.Domains) == 0 {
		return p.at("server.domains", "[server] domains is empty; name the mail domains this server receives for, such as domains = example.org")
	}
	seen := map[string]bool{}
	for i, d := range c.Server.Domains {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		if !validHostname(d) {
			return p.at("server.domains", "domain %q is not a domain name; write names such as example.org, comma separated", c.Server.Domains[i])
		}
		if seen[d] {
			return p.at("server.domains", "domain %q is listed twice; list each domain once", d)
		}
		seen[d] = true
		c.Server.Domains[i] = d
	}
	if c.Server.DataDir == "" {
		return p.at("server.data_dir", "data_dir is empty; give the directory for users, queue and keys, such as /var/lib/maildird")
	}
	return nil
}

// validHostname accepts LDH labels separated by dots (RFC 1123), which is
// what the greeting and the domains need.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i] | 0x20
			if !(ch >= 'a' && ch <= 'z') && !(label[i] >= '0' && label[i] <= '9') && label[i] != '-' {
				return false
			}
		}
	}
	return true
}

func (p *parser) checkListen(c *Config) error {
	used := map[string]string{}
	for _, l := range c.Listeners() {
		key := "listen." + l.Name
		host, port, err := net.SplitHostPort(l.Addr)
		if err != nil {
			return p.at(key, "%s = %q is not host:port; write :port for every address, or 127.0.0.1:port, or leave it empty to turn it off", l.Name, l.Addr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return p.at(key, "%s = %q: bad port %q; use a number from 1 to 65535", l.Name, l.Addr, port)
		}
		if host != "" && host != "localhost" {
			if _, err := netip.ParseAddr(host); err != nil {
				return p.at(key, "%s = %q: %q is not an IP address; listen on :port or on one of this machine's addresses", l.Name, l.Addr, host)
			}
		}
		if other, dup := used[l.Addr]; dup {
			return p.at(key, "%s and %s both listen on %s; give each its own port", other, l.Name, l.Addr)
		}
		used[l.Addr] = l.Name
	}
	return nil
}

func (p *parser) checkTLS(c *Config) error {
	switch c.TLS.Mode {
	case TLSAutocert, TLSSelfSigned, TLSOff:
	case TLSFiles:
		for _, k := range []struct{ key, path string }{{"tls.cert", c.TLS.Cert}, {"tls.key", c.TLS.Key}} {
			line := p.lines[k.key]
			if line == 0 {
				line = p.lines["tls.mode"]
			}
			if k.path == "" {
				return p.errorf(line, k.key, "mode = files needs %s; give the PEM file's path", strings.TrimPrefix(k.key, "tls."))
			}
			if st, err := os.Stat(k.path); err != nil {
				return p.errorf(line, k.key, "%s file %s: %v; check the path (mode = files)", strings.TrimPrefix(k.key, "tls."), k.path, unwrapPathError(err))
			} else if st.IsDir() {
				return p.errorf(line, k.key, "%s %s is a directory; give the PEM file inside it", strings.TrimPrefix(k.key, "tls."), k.path)
			}
		}
	default:
		return p.at("tls.mode", "unknown tls mode %q; use autocert, files, selfsigned or off", c.TLS.Mode)
	}
	if c.TLS.ACMEEmail != "" && !strings.Contains(c.TLS.ACMEEmail, "@") {
		return p.at("tls.acme_email", "acme_email %q is not a mail address", c.TLS.ACMEEmail)
	}
	if d := c.TLS.ACMEDirectory; d != "" && !strings.HasPrefix(d, "https://") && !strings.HasPrefix(d, "http://") {
		return p.at("tls.acme_directory", "acme_directory %q is not a URL; give the ACME server's directory URL", d)
	}
	return nil
}

func (p *parser) checkDelivery(c *Config) error {
	d := c.Delivery
	if d.Smarthost != "" {
		host, port, err := net.SplitHostPort(d.Smarthost)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return p.at("delivery.smarthost", "smarthost %q is not host:port; write it as smtp.example.net:587, or leave it empty for direct delivery", d.Smarthost)
		}
	}
	switch d.SmarthostTLS {
	case SmarthostAuto, SmarthostImplicit, SmarthostSTARTTLS:
	default:
		return p.at("delivery.smarthost_tls", "unknown smarthost_tls %q; use auto, implicit or starttls", d.SmarthostTLS)
	}
	if (d.SmarthostUser == "") != (d.SmarthostPassword == "") {
		key := "delivery.smarthost_user" // blame the one that is set
		if d.SmarthostUser == "" {
			key = "delivery.smarthost_password"
		}
		return p.at(key, "smarthost_user and smarthost_password go together; set both or neither")
	}
	if d.SmarthostUser != "" && d.Smarthost == "" {
		return p.at("delivery.smarthost_user", "smarthost_user is set but smarthost is empty; name the smarthost or drop the login")
	}
	return nil
}

func (p *parser) checkLimits(c *Config) error {
	l := c.Limits
	if l.MaxMessageSize < 1<<10 || l.MaxMessageSize > 2<<30 {
		return p.at("limits.max_message_size", "max_message_size must be between 1K and 2G, such as 25M")
	}
	if l.MaxRecipients < 1 || l.MaxRecipients > 10000 {
		return p.at("limits.max_recipients", "max_recipients must be between 1 and 10000 (RFC 5321 asks for at least 100)")
	}
	if l.MaxConnsPerIP < 1 || l.MaxConnsPerIP > 10000 {
		return p.at("limits.max_connections_per_ip", "max_connections_per_ip must be between 1 and 10000")
	}
	return nil
}

func (p *parser) checkLog(c *Config) error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return p.at("log.level", "unknown log level %q; use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return p.at("log.format", "unknown log format %q; use text or json", c.Log.Format)
	}
	return nil
}

// String is for debugging: the config without the smarthost password.
func (c *Config) String() string {
	cp := *c
	if cp.Delivery.SmarthostPassword != "" {
		cp.Delivery.SmarthostPassword = "<redacted>"
	}
	return fmt.Sprintf("%+v", cp)
}
