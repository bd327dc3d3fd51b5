package web

import (
	"regexp"
	"strings"
	"testing"
)

func fetchProfile(t *testing.T, s *Server, addr string) (profile, account map[string]any) {
	t.Helper()
	rec := do(s, "GET", "https://mail.example.org/apple.mobileconfig?email="+addr, "")
	wantStatus(t, rec, 200)
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-apple-aspen-config" {
		t.Errorf("Content-Type %q: iOS installs only application/x-apple-aspen-config", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, ".mobileconfig") {
		t.Errorf("Content-Disposition %q", cd)
	}
	profile = parsePlist(t, rec.Body.Bytes())
	content, ok := profile["PayloadContent"].([]any)
	if !ok || len(content) != 1 {
		t.Fatalf("PayloadContent %#v", profile["PayloadContent"])
	}
	account, ok = content[0].(map[string]any)
	if !ok {
		t.Fatalf("payload %#v", content[0])
	}
	return profile, account
}

var uuidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestMobileconfig(t *testing.T) {
	s := newTestServer(standard)
	profile, acct := fetchProfile(t, s, "Dave@example.org")
	want := map[string]any{
		"PayloadType":                            "com.apple.mail.managed",
		"PayloadVersion":                         1,
		"EmailAccountType":                       "EmailTypeIMAP",
		"EmailAddress":                           "dave@example.org",
		"IncomingMailServerHostName":             "mail.example.org",
		"IncomingMailServerPortNumber":           993,
		"IncomingMailServerUseSSL":               true,
		"IncomingMailServerUsername":             "dave@example.org",
		"IncomingMailServerAuthentication":       "EmailAuthPassword",
		"OutgoingMailServerHostName":             "mail.example.org",
		"OutgoingMailServerPortNumber":           465,
		"OutgoingMailServerUseSSL":               true,
		"OutgoingMailServerUsername":             "dave@example.org",
		"OutgoingMailServerAuthentication":       "EmailAuthPassword",
		"OutgoingPasswordSameAsIncomingPassword": true,
	}
	for k, v := range want {
		if acct[k] != v {
			t.Errorf("account %s = %#v, want %#v", k, acct[k], v)
		}
	}
	if _, ok := acct["IncomingPassword"]; ok {
		t.Error("the profile carries a password")
	}
	if profile["PayloadType"] != "Configuration" || profile["PayloadVersion"] != 1 {
		t.Errorf("profile %#v", profile)
	}
	for _, m := range []map[string]any{profile, acct} {
		if u, _ := m["PayloadUUID"].(string); !uuidRE.MatchString(u) {
			t.Errorf("PayloadUUID %q", u)
		}
		if id, _ := m["PayloadIdentifier"].(string); !strings.HasPrefix(id, "org.example.mail.") {
			t.Errorf("PayloadIdentifier %q", id)
		}
	}
	if profile["PayloadUUID"] == acct["PayloadUUID"] {
		t.Error("profile and account share a UUID")
	}

	// Fetching again gives the same identity (the installed profile is
	// replaced); another address gets another.
	again, _ := fetchProfile(t, s, "dave@example.org")
	other, _ := fetchProfile(t, s, "erin@example.org")
	if again["PayloadUUID"] != profile["PayloadUUID"] || again["PayloadIdentifier"] != profile["PayloadIdentifier"] {
		t.Error("a second download has another identity")
	}
	if other["PayloadUUID"] == profile["PayloadUUID"] || other["PayloadIdentifier"] == profile["PayloadIdentifier"] {
		t.Error("two addresses share a profile identity")
	}
}

// TestMobileconfigSTARTTLSAndPOP: a server with only POP3 and STARTTLS
// ports gives a POP account without implicit SSL on those ports.
func TestMobileconfigSTARTTLSAndPOP(t *testing.T) {
	s := newTestServer([]Endpoint{{POP3, 1110, STARTTLS}, {SMTP, 1587, STARTTLS}})
	_, acct := fetchProfile(t, s, "dave@example.net")
	for k, v := range map[string]any{
		"EmailAccountType": "EmailTypePOP", "IncomingMailServerPortNumber": 1110, "IncomingMailServerUseSSL": false,
		"OutgoingMailServerPortNumber": 1587, "OutgoingMailServerUseSSL": false,
	} {
		if acct[k] != v {
			t.Errorf("%s = %#v, want %#v", k, acct[k], v)
		}
	}
	s = newTestServer([]Endpoint{{SMTP, 465, ImplicitTLS}})
	wantStatus(t, do(s, "GET", "https://x/apple.mobileconfig?email=dave@example.org", ""), 404)
}
