package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/web"
	mdtls "github.com/maildird/maildird/tls"
)

// planFor plans the listeners of a config where only listen's entries
// (name -> address) are on.
func planFor(t *testing.T, listen map[string]string, tlsMode string) (deps, []plannedListener) {
	t.Helper()
	dataDir := t.TempDir()
	section := "[listen]\n"
	for _, name := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http", "https"} {
		section += name + " = " + listen[name] + "\n"
	}
	cfg, err := config.Parse("test.ini", strings.NewReader("[server]\nhostname = mail.example.org\ndomains = example.org\ndata_dir = "+dataDir+
		"\n"+section+"[tls]\nmode = "+tlsMode+"\nacme_directory = http://127.0.0.1:1/directory\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	src, err := newTLSSource(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	d := deps{cfg: cfg, log: log, tlsSrc: src}
	return d, planListeners(d)
}

func planned(t *testing.T, plan []plannedListener, name string) plannedListener {
	t.Helper()
	for _, p := range plan {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no %s in the plan", name)
	return plannedListener{}
}

func get(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec
}

// TestPlanWebNamesServedPorts: the web listeners share one server whose
// documents list exactly the mail listeners this build serves, on their
// configured ports, and plain http redirects to the https port.
func TestPlanWebNamesServedPorts(t *testing.T) {
	_, plan := planFor(t, map[string]string{
		"smtp": "127.0.0.1:2525", "submission": "127.0.0.1:2587", "imap": "127.0.0.1:2143",
		"pop3s": "127.0.0.1:2995", "http": "127.0.0.1:2080", "https": "127.0.0.1:2443",
	}, mdtls.ModeSelfSigned)
	httpL, httpsL := planned(t, plan, "http"), planned(t, plan, "https")
	if httpL.serve == nil || httpsL.serve == nil {
		t.Fatalf("web not served: http %q, https %q", httpL.reason, httpsL.reason)
	}
	if httpL.serve.Service != httpsL.serve.Service {
		t.Error("http and https have different servers")
	}
	if httpL.serve.TLS != nil || httpsL.serve.TLS == nil || !slices.Contains(httpsL.serve.TLS.NextProtos, "http/1.1") {
		t.Errorf("TLS of http %v, https %v", httpL.serve.TLS, httpsL.serve.TLS)
	}
	h := httpsL.serve.Service.(http.Handler)
	rec := get(h, "https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=a@example.org")
	if rec.Code != 200 {
		t.Fatalf("autoconfig %d %s", rec.Code, rec.Body)
	}
	doc := rec.Body.String()
	for _, p := range plan {
		e, client := web.EndpointFor(p.Name, p.Addr, true)
		if !client {
			if p.Name == "smtp" && strings.Contains(doc, "<port>2525</port>") {
				t.Error("the MX port is offered to clients")
			}
			continue
		}
		if listed := strings.Contains(doc, "<port>"+strconv.Itoa(e.Port)+"</port>"); listed != (p.serve != nil) {
			t.Errorf("%s on %s: served %v, listed %v\n%s", p.Name, p.Addr, p.serve != nil, listed, doc)
		}
	}
	if loc := get(h, "http://autoconfig.example.org/mail/config-v1.1.xml").Header().Get("Location"); !strings.HasPrefix(loc, "https://autoconfig.example.org:2443/") {
		t.Errorf("plain http redirect %q", loc)
	}
}

func TestPlanWebWithoutTLS(t *testing.T) {
	_, plan := planFor(t, map[string]string{"pop3": "127.0.0.1:2110", "http": "127.0.0.1:2080", "https": "127.0.0.1:2443"}, "off")
	if p := planned(t, plan, "https"); p.serve != nil || !strings.Contains(p.reason, "TLS") {
		t.Errorf("https without TLS: served %v, reason %q", p.serve != nil, p.reason)
	}
	h := planned(t, plan, "http").serve.Service.(http.Handler)
	rec := get(h, "http://x/mail/config-v1.1.xml?emailaddress=a@example.org")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<socketType>plain</socketType>") {
		t.Errorf("no https: %d %s", rec.Code, rec.Body)
	}
}

// TestPlanWebMountsACME: in mode autocert the http listener answers
// http-01 through autocert (its host policy refuses foreign names with
// 403, where no ACME handler would give 404).
func TestPlanWebMountsACME(t *testing.T) {
	_, plan := planFor(t, map[string]string{"http": "127.0.0.1:2080", "https": "127.0.0.1:2443"}, mdtls.ModeAutocert)
	h := planned(t, plan, "http").serve.Service.(http.Handler)
	if rec := get(h, "http://evil.example.com/.well-known/acme-challenge/x"); rec.Code != 403 {
		t.Errorf("foreign name: %d, want autocert's 403", rec.Code)
	}
	if rec := get(h, "http://mail.example.org/.well-known/acme-challenge/x"); rec.Code != 404 {
		t.Errorf("unknown token: %d, want 404", rec.Code)
	}
	if https := planned(t, plan, "https").serve.TLS; !slices.Contains(https.NextProtos, "acme-tls/1") {
		t.Errorf("https NextProtos %q: no tls-alpn-01", https.NextProtos)
	}
	_, plan = planFor(t, map[string]string{"http": "127.0.0.1:2080"}, mdtls.ModeSelfSigned)
	if rec := get(planned(t, plan, "http").serve.Service.(http.Handler), "http://evil.example.com/.well-known/acme-challenge/x"); rec.Code != 404 {
		t.Errorf("selfsigned: %d, want 404", rec.Code)
	}
}

// TestCheckAutocert: check says where ACME certificates go, and names the
// two mistakes that keep Let's Encrypt from issuing any.
func TestCheckAutocert(t *testing.T) {
	withMode := func(extra string, edits ...[2]string) string {
		cfg, _ := writeConfig(t, extra)
		text, _ := os.ReadFile(cfg)
		conf := strings.Replace(string(text), "mode = selfsigned", "mode = autocert", 1)
		for _, e := range edits {
			conf = strings.Replace(conf, e[0], e[1], 1)
		}
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	runCLI(t, "", "-config", withMode("", [2]string{"http =\n", "http = 127.0.0.1:2080\n"}), "check").
		must(t, exitOK, "ok: tls mode autocert for mail.example.org", "")
	runCLI(t, "", "-config", withMode(""), "check").
		must(t, exitError, "problem: tls: mode autocert needs [listen] http", "")
	runCLI(t, "", "-config", withMode("", [2]string{"http =\n", "http = 127.0.0.1:2080\n"},
		[2]string{"hostname = mail.example.org", "hostname = localhost"}), "check").
		must(t, exitError, "needs a DNS name with a dot", "")
}
