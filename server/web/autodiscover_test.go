package web

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// An Outlook request, as Outlook sends it.
const outlookRequest = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>%s</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`

type poxResponse struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
		Account struct {
			AccountType string `xml:"AccountType"`
			Action      string `xml:"Action"`
			Protocols   []struct {
				Type, Server, LoginName, SSL, Encryption, AuthRequired string
				Port                                                   int
			} `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

func TestAutodiscover(t *testing.T) {
	s := newTestServer(standard)
	for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"} {
		rec := do(s, "POST", "https://autodiscover.example.org"+path, strings.Replace(outlookRequest, "%s", "carol@example.org", 1))
		wantStatus(t, rec, 200)
		var r poxResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s: response does not parse in the POX namespaces: %v\n%s", path, err, rec.Body)
		}
		a := r.Response.Account
		if a.AccountType != "email" || a.Action != "settings" {
			t.Errorf("account %+v", a)
		}
		var got []string
		for _, p := range a.Protocols {
			got = append(got, strings.Join([]string{p.Type, p.Server, strconv.Itoa(p.Port), p.SSL, p.Encryption, p.LoginName, p.AuthRequired}, " "))
		}
		want := []string{
			"IMAP mail.example.org 993 on SSL carol@example.org on",
			"POP3 mail.example.org 995 on SSL carol@example.org on",
			"SMTP mail.example.org 465 on SSL carol@example.org on",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: protocols\n%s\nwant\n%s", path, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestAutodiscoverSTARTTLSOnly: with only the STARTTLS ports, Outlook is
// told Encryption TLS on those ports.
func TestAutodiscoverSTARTTLSOnly(t *testing.T) {
	s := newTestServer([]Endpoint{{IMAP, 1143, STARTTLS}, {SMTP, 1587, STARTTLS}})
	rec := do(s, "POST", "https://x/autodiscover/autodiscover.xml", strings.Replace(outlookRequest, "%s", "carol@example.org", 1))
	wantStatus(t, rec, 200)
	var r poxResponse
	if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	ps := r.Response.Account.Protocols
	if len(ps) != 2 || ps[0].Type != "IMAP" || ps[0].Port != 1143 || ps[0].Encryption != "TLS" ||
		ps[1].Type != "SMTP" || ps[1].Port != 1587 || ps[1].Encryption != "TLS" {
		t.Errorf("protocols %+v", ps)
	}
}

func TestAutodiscoverBadRequests(t *testing.T) {
	s := newTestServer(standard)
	wantStatus(t, do(s, "GET", "https://x/autodiscover/autodiscover.xml", ""), 405)
	wantStatus(t, do(s, "POST", "https://x/autodiscover/autodiscover.xml", "not xml"), 400)
	wantStatus(t, do(s, "POST", "https://x/autodiscover/autodiscover.xml", "<Autodiscover><Request/></Autodiscover>"), 400)
	big := strings.Replace(outlookRequest, "%s", strings.Repeat("a", maxBodyBytes)+"@example.org", 1)
	wantStatus(t, do(s, "POST", "https://x/autodiscover/autodiscover.xml", big), 413)
}
