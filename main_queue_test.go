package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/maildird/maildird/server/queue"
)

func TestQueueCommands(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	runCLI(t, "", "-config", cfg, "queue", "list").must(t, exitOK, "the queue is empty", "")
	msg := "From: Alice <alice@example.org>\nTo: bob@far.example\nSubject: q\n\nbody\n"
	r := runCLI(t, msg, "-config", cfg, "sendmail", "bob@far.example")
	r.must(t, exitOK, "", "queued as ")
	id := regexp.MustCompile(`queued as ([0-9a-f]+)`).FindStringSubmatch(r.stderr)[1]

	list := runCLI(t, "", "-config", cfg, "queue", "list")
	list.must(t, exitOK, id+"  ", "")
	for _, want := range []string{"from alice@example.org", "bob@far.example", "pending", "1 message(s) queued"} {
		if !strings.Contains(list.stdout, want) {
			t.Fatalf("queue list lacks %q:\n%s", want, list.stdout)
		}
	}

	runCLI(t, "", "-config", cfg, "queue", "flush").must(t, exitOK, "retry 1 queued message(s)", "")
	if _, err := os.Stat(filepath.Join(dataDir, "queue", "flush")); err != nil {
		t.Fatal("queue flush left no request for the server")
	}

	runCLI(t, "", "-config", cfg, "queue", "delete", id).must(t, exitOK, "deleted "+id, "")
	runCLI(t, "", "-config", cfg, "queue", "list").must(t, exitOK, "the queue is empty", "")
	runCLI(t, "", "-config", cfg, "queue", "delete", id).must(t, exitError, "", "no queued message "+id)
	runCLI(t, "", "-config", cfg, "queue", "delete", "../passwd").must(t, exitError, "", "not a queue ID")
	for _, args := range [][]string{{"queue"}, {"queue", "show"}, {"queue", "delete"}, {"queue", "list", "x"}, {"dns", "x"}} {
		runCLI(t, "", append([]string{"-config", cfg}, args...)...).must(t, exitUsage, "", "usage:")
	}
}

func TestDNSCommand(t *testing.T) {
	cfg, dataDir := writeConfig(t, "\n[delivery]\nsmarthost = smtp.provider.example:587\n")
	text, _ := os.ReadFile(cfg)
	text = []byte(strings.NewReplacer("submission =\n", "submission = :587\n", "imaps =\n", "imaps = :993\n", "http =\n", "http = :80\n").Replace(string(text)))
	os.WriteFile(cfg, text, 0o644)
	r := runCLI(t, "", "-config", cfg, "dns")
	r.must(t, exitOK, "", "")
	out := r.stdout
	for _, want := range []string{
		"example.org. 3600 IN MX 10 mail.example.org.\n",
		"example.net. 3600 IN MX 10 mail.example.org.\n",
		`example.org. 3600 IN TXT "v=spf1 mx a:smtp.provider.example ~all"` + "\n",
		`_dmarc.example.org. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.org"` + "\n",
		"autoconfig.example.org. 3600 IN CNAME mail.example.org.\n",
		"_submission._tcp.example.org. 3600 IN SRV 0 1 587 mail.example.org.\n",
		"_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mail.example.org.\n",
		"_submissions._tcp.example.org. 3600 IN SRV 0 0 0 .\n", // off in this config
		"_pop3._tcp.example.org. 3600 IN SRV 0 0 0 .\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dns output lacks %q", want)
		}
	}
	// The DKIM records are those of the key files the server signs with.
	keys, err := queue.LoadDKIM(filepath.Join(dataDir, "dkim"), []string{"example.org", "example.net"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range keys.Records("example.org") {
		line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(rec.Name) + `\. 3600 IN TXT (.*)$`).FindStringSubmatch(out)
		if line == nil {
			t.Fatalf("no record for %s:\n%s", rec.Name, out)
		}
		var joined string
		for _, part := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(line[1], -1) {
			if len(part[1]) > 255 {
				t.Fatalf("a TXT string of %d bytes", len(part[1]))
			}
			joined += part[1]
		}
		if joined != rec.Value {
			t.Fatalf("%s: %q, want %q", rec.Name, joined, rec.Value)
		}
	}
	// Every non-comment line is a zone-file line: name TTL IN TYPE value.
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		if f := strings.Fields(l); len(f) < 5 || f[1] != "3600" || f[2] != "IN" {
			t.Fatalf("not a zone-file line: %q", l)
		}
	}
	// Without a smarthost the SPF names only the MX; a second run keeps the keys.
	cfg2, _ := writeConfig(t, "")
	runCLI(t, "", "-config", cfg2, "dns").must(t, exitOK, `"v=spf1 mx ~all"`, "")
	if again := runCLI(t, "", "-config", cfg, "dns"); again.stdout != out {
		t.Fatal("a second dns run printed other records")
	}
}

func TestSendmail(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	runCLI(t, "pw secret\n", "-config", cfg, "user", "add", "alice@example.org").must(t, exitOK, "", "")
	runCLI(t, "pw secret\n", "-config", cfg, "user", "add", "root@example.org").must(t, exitOK, "", "")
	runCLI(t, "", "-config", cfg, "alias", "add", "family@example.org", "alice@example.org,carol@far.example").must(t, exitOK, "", "")

	// -t: To, Cc and Bcc; Bcc is removed; an alias reaches a local and a
	// remote address; cron's flags are accepted.
	msg := "Subject: nightly\nTo: family@example.org\nCc: dave@far.example\nBcc: erin@far.example\n\nall good\n"
	r := runCLI(t, msg, "-config", cfg, "sendmail", "-i", "-FCronDaemon", "-B8BITMIME", "-oem", "-t", "-f", "root")
	r.must(t, exitOK, "", "queued as ")
	inbox := readNew(t, filepath.Join(dataDir, "mail", "example.org", "alice"))
	if len(inbox) != 1 {
		t.Fatalf("alice has %d messages, want 1", len(inbox))
	}
	got := inbox[0]
	for _, want := range []string{"Return-Path: <root@example.org>", "Received: by mail.example.org (maildird sendmail", "From: <root@example.org>", "Message-ID: <", "Date: ", "Subject: nightly", "all good"} {
		if !strings.Contains(got, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Bcc") || strings.Contains(got, "erin") {
		t.Errorf("Bcc left in the message:\n%s", got)
	}
	spool, _ := queue.OpenSpool(filepath.Join(dataDir, "queue"))
	envs, err := spool.List()
	if err != nil || len(envs) != 1 {
		t.Fatalf("queue: %v, %v", envs, err)
	}
	var rcpts []string
	for _, rc := range envs[0].Rcpts {
		rcpts = append(rcpts, rc.Addr)
	}
	if strings.Join(rcpts, ",") != "carol@far.example,dave@far.example,erin@far.example" || envs[0].From != "root@example.org" {
		t.Fatalf("queued %q -> %v", envs[0].From, rcpts)
	}
	if !strings.Contains(envs[0].DKIM, "d=example.org") {
		t.Fatal("the queued message is not DKIM-signed")
	}

	// Plain recipients, an unqualified one getting the first domain.
	runCLI(t, "Subject: x\n\nhi\n", "-config", cfg, "sendmail", "root").must(t, exitOK, "", "")
	if n := len(readNew(t, filepath.Join(dataDir, "mail", "example.org", "root"))); n != 1 {
		t.Fatalf("root has %d messages, want 1", n)
	}
	runCLI(t, "x\n", "-config", cfg, "sendmail", "nobody@example.org").must(t, exitError, "", "no such local user")
	runCLI(t, "x\n", "-config", cfg, "sendmail").must(t, exitUsage, "", "needs recipients")
	runCLI(t, "x\n", "-config", cfg, "sendmail", "-x", "a@b.example").must(t, exitUsage, "", "unknown option")
	runCLI(t, "Subject: x\n\n", "-config", cfg, "sendmail", "-t").must(t, exitUsage, "", "no recipients")
}

func readNew(t *testing.T, root string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(root, "new"))
	var out []string
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(root, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	return out
}
