package web

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// The test's own view of Mozilla's format.
type tbConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID       string     `xml:"id,attr"`
		Domains  []string   `xml:"domain"`
		Incoming []tbServer `xml:"incomingServer"`
		Outgoing []tbServer `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

type tbServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
}

func (s tbServer) String() string {
	return s.Type + " " + s.Hostname + ":" + strconv.Itoa(s.Port) + " " + s.SocketType + " " + s.Authentication + " " + s.Username
}

func fetchAutoconfig(t *testing.T, s *Server, target string) tbConfig {
	t.Helper()
	rec := do(s, "GET", target, "")
	wantStatus(t, rec, 200)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("Content-Type %q", ct)
	}
	var c tbConfig
	if err := xml.Unmarshal(rec.Body.Bytes(), &c); err != nil {
		t.Fatalf("autoconfig does not parse: %v\n%s", err, rec.Body)
	}
	return c
}

func TestAutoconfigBothPaths(t *testing.T) {
	s := newTestServer(standard)
	for _, target := range []string{
		"http://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=Alice%40Example.ORG",
		"https://example.org/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@example.org",
	} {
		c := fetchAutoconfig(t, s, target)
		if c.Version != "1.1" || c.Provider.ID != "example.org" || len(c.Provider.Domains) != 1 || c.Provider.Domains[0] != "example.org" {
			t.Errorf("%s: provider %+v", target, c)
		}
		var in, out []string
		for _, x := range c.Provider.Incoming {
			in = append(in, x.String())
		}
		for _, x := range c.Provider.Outgoing {
			out = append(out, x.String())
		}
		wantIn := []string{
			"imap mail.example.org:993 SSL password-cleartext alice@example.org",
			"imap mail.example.org:143 STARTTLS password-cleartext alice@example.org",
			"pop3 mail.example.org:995 SSL password-cleartext alice@example.org",
			"pop3 mail.example.org:110 STARTTLS password-cleartext alice@example.org",
		}
		wantOut := []string{
			"smtp mail.example.org:465 SSL password-cleartext alice@example.org",
			"smtp mail.example.org:587 STARTTLS password-cleartext alice@example.org",
		}
		if strings.Join(in, "\n") != strings.Join(wantIn, "\n") {
			t.Errorf("%s: incoming\n%s\nwant\n%s", target, strings.Join(in, "\n"), strings.Join(wantIn, "\n"))
		}
		if strings.Join(out, "\n") != strings.Join(wantOut, "\n") {
			t.Errorf("%s: outgoing\n%s\nwant\n%s", target, strings.Join(out, "\n"), strings.Join(wantOut, "\n"))
		}
	}
}

// TestAutoconfigNamesTheRealPorts: with maildird on non-standard ports
// and some listeners off, the document lists exactly what it listens on.
func TestAutoconfigNamesTheRealPorts(t *testing.T) {
	var eps []Endpoint
	for _, l := range [][2]string{
		{"smtp", ":25"}, {"imaps", "127.0.0.1:2993"}, {"pop3", "127.0.0.1:2110"},
		{"submission", "[::1]:2587"}, {"http", ":80"},
	} {
		if e, ok := EndpointFor(l[0], l[1], true); ok {
			eps = append(eps, e)
		}
	}
	c := fetchAutoconfig(t, newTestServer(eps), "http://x/mail/config-v1.1.xml?emailaddress=bob@example.net")
	var got []string
	for _, x := range append(c.Provider.Incoming, c.Provider.Outgoing...) {
		got = append(got, x.String())
	}
	want := []string{
		"imap mail.example.org:2993 SSL password-cleartext bob@example.net",
		"pop3 mail.example.org:2110 STARTTLS password-cleartext bob@example.net",
		"smtp mail.example.org:2587 STARTTLS password-cleartext bob@example.net",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("servers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAutoconfigEscapesTheAddress: a local part with XML's special
// characters (legal in an address) stays text.
func TestAutoconfigEscapesTheAddress(t *testing.T) {
	c := fetchAutoconfig(t, newTestServer(standard), "http://x/mail/config-v1.1.xml?emailaddress=a%3Cb%26c%3E@example.org")
	if u := c.Provider.Incoming[0].Username; u != "a<b&c>@example.org" {
		t.Errorf("username %q", u)
	}
}
