package main

import (
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/queue"
)

// dnsTTL is the TTL printed on every record.
const dnsTTL = 3600

// cmdDNS prints the records each local domain must publish, as zone-file
// lines. It makes the DKIM keys if the server has not yet, from the same
// files, so it may run before the first start or while the server runs.
func cmdDNS(configPath string, e env) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	keys, err := queue.LoadDKIM(dkimDir(cfg), cfg.Server.Domains)
	if err != nil {
		return err
	}
	host := cfg.Server.Hostname + "."
	w := e.stdout
	fmt.Fprintf(w, "; DNS records for maildird on %s. Publish them at your DNS provider.\n", cfg.Server.Hostname)
	fmt.Fprintf(w, "; %s also needs A/AAAA records with this machine's public address, and\n", cfg.Server.Hostname)
	fmt.Fprintf(w, "; the PTR record of that address should name %s.\n", cfg.Server.Hostname)
	if cfg.Delivery.Smarthost != "" {
		fmt.Fprintf(w, "; Mail leaves through the smarthost %s: if its provider publishes an SPF\n", cfg.Delivery.Smarthost)
		fmt.Fprintln(w, "; include (include:...), use that in place of its a: term.")
	}
	for _, domain := range cfg.Server.Domains {
		fmt.Fprintf(w, "\n; %s\n", domain)
		d := domain + "."
		record(w, d, "MX", "10 "+host)
		record(w, d, "TXT", txt(spf(cfg)))
		for _, r := range keys.Records(domain) {
			record(w, r.Name+".", "TXT", txt(r.Value))
		}
		record(w, "_dmarc."+d, "TXT", txt("v=DMARC1; p=none; rua=mailto:postmaster@"+domain))
		if cfg.Listen.HTTP != "" || cfg.Listen.HTTPS != "" {
			record(w, "autoconfig."+d, "CNAME", host)
			record(w, "autodiscover."+d, "CNAME", host)
		}
		// RFC 6186 (and RFC 8314 for _submissions): a service that is off
		// is published with the target ".".
		for _, s := range []struct{ name, addr string }{
			{"_submissions._tcp", cfg.Listen.Submissions},
			{"_submission._tcp", cfg.Listen.Submission},
			{"_imaps._tcp", cfg.Listen.IMAPS},
			{"_imap._tcp", cfg.Listen.IMAP},
			{"_pop3s._tcp", cfg.Listen.POP3S},
			{"_pop3._tcp", cfg.Listen.POP3},
		} {
			record(w, s.name+"."+d, "SRV", srv(s.addr, host))
		}
	}
	return nil
}

func record(w io.Writer, name, typ, value string) {
	fmt.Fprintf(w, "%s %d IN %s %s\n", name, dnsTTL, typ, value)
}

// spf authorizes the domain's MX and, when set, the smarthost.
func spf(cfg *config.Config) string {
	terms := []string{"v=spf1", "mx"}
	if sh := cfg.Delivery.Smarthost; sh != "" {
		host, _, err := net.SplitHostPort(sh)
		if err == nil {
			if net.ParseIP(host) != nil {
				if strings.Contains(host, ":") {
					terms = append(terms, "ip6:"+host)
				} else {
					terms = append(terms, "ip4:"+host)
				}
			} else {
				terms = append(terms, "a:"+host)
			}
		}
	}
	return strings.Join(append(terms, "~all"), " ")
}

// srv is the SRV value for a listener: priority 0, weight 1, its port;
// "0 0 0 ." when it is off.
func srv(addr, host string) string {
	if addr == "" {
		return "0 0 0 ."
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "0 0 0 ."
	}
	return "0 1 " + port + " " + host
}

// txt quotes a TXT value, split into strings of at most 255 bytes
// (RFC 1035 §3.3.14), as a 2048-bit DKIM key needs.
func txt(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	return strings.Join(append(parts, `"`+v+`"`), " ")
}
