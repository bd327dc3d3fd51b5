package web

import (
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// standard are the endpoints of the default [listen] ports.
var standard = []Endpoint{
	{IMAP, 143, STARTTLS}, {IMAP, 993, ImplicitTLS},
	{POP3, 110, STARTTLS}, {POP3, 995, ImplicitTLS},
	{SMTP, 587, STARTTLS}, {SMTP, 465, ImplicitTLS},
}

func newTestServer(endpoints []Endpoint) *Server {
	return New(Options{Hostname: "Mail.Example.org", Domains: []string{"example.org", "example.net"},
		Endpoints: endpoints, Logger: quiet})
}

// do runs one request through the handler; an https:// target arrives
// as if on the https listener.
func do(s *Server, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// plist parsing, independent of the code under test: dict -> map, array
// -> slice, string, integer -> int, true/false -> bool.

func parsePlist(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(doc)))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("plist: no <plist>: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "plist" {
			v, err := plistValue(d)
			if err != nil {
				t.Fatalf("plist: %v\n%s", err, doc)
			}
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("plist top level is %T", v)
			}
			return m
		}
	}
}

// plistValue reads the next value element.
func plistValue(d *xml.Decoder) (any, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			return plistElement(d, tok)
		case xml.EndElement:
			return nil, io.EOF // end of the enclosing array
		}
	}
}

func plistElement(d *xml.Decoder, se xml.StartElement) (any, error) {
	switch se.Name.Local {
	case "string", "integer", "key":
		var s string
		if err := d.DecodeElement(&s, &se); err != nil {
			return nil, err
		}
		if se.Name.Local == "integer" {
			return strconv.Atoi(s)
		}
		return s, nil
	case "true", "false":
		return se.Name.Local == "true", d.Skip()
	case "array":
		var out []any
		for {
			v, err := plistValue(d)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	case "dict":
		out := map[string]any{}
		for {
			k, err := plistValue(d)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key is %T", k)
			}
			v, err := plistValue(d)
			if err != nil {
				return nil, fmt.Errorf("value of %s: %v", key, err)
			}
			out[key] = v
		}
	}
	return nil, fmt.Errorf("unknown plist element <%s>", se.Name.Local)
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, code int) {
	t.Helper()
	if rec.Code != code {
		t.Fatalf("status %d, want %d; body %q", rec.Code, code, rec.Body)
	}
}
