package imap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// benchMessages is the size of the folder the benchmarks below use.
const benchMessages = 10000

// benchFolder writes n messages into alice's INBOX cur/, the way
// bench/imap_test.go does (Dovecot's file names with S= and W=), and
// returns a client with INBOX selected whose summaries are in the cache.
func benchFolder(b *testing.B, n int) (*testServer, *imapclient.Client) {
	b.Helper()
	ts := newTestServer(b, nil)
	dir := filepath.Join(ts.root, "example.org", "alice")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	flags := []string{"", "S", "S", "RS", "FS", "S", ""}
	body := strings.Repeat("Some ordinary text of a family mail, to make it the usual size.\n", 30)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		msg := fmt.Sprintf("Return-Path: <sender%d@example.net>\nFrom: Sender %d <sender%d@example.net>\nTo: Alice <alice@example.org>\n"+
			"Subject: Message number %d about topic %d\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <%d@example.net>\n"+
			"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s", i%97, i%97, i%97, i, i%13, i, body)
		lines := strings.Count(msg, "\n")
		date := base.Add(time.Duration(i) * time.Minute)
		name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d:2,%s", date.Unix(), i, len(msg), len(msg)+lines, flags[i%len(flags)])
		path := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
			b.Fatal(err)
		}
		os.Chtimes(path, date, date)
	}
	c, data := ts.selectBox("INBOX")
	if int(data.NumMessages) != n {
		b.Fatalf("SELECT: %d messages, want %d", data.NumMessages, n)
	}
	fetchEnvelopes(b, c, n) // fills the summary cache
	return ts, c
}

func fetchEnvelopes(b *testing.B, c *imapclient.Client, n int) {
	b.Helper()
	var all goimap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &goimap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != n {
		b.Fatalf("FETCH 1:* (ENVELOPE): %d messages, %v", len(msgs), err)
	}
}

// BenchmarkFetchEnvelope is FETCH 1:* (ENVELOPE) on a warm folder of
// benchMessages messages, as bench/ measures it against Dovecot.
func BenchmarkFetchEnvelope(b *testing.B) {
	_, c := benchFolder(b, benchMessages)
	b.ResetTimer()
	for range b.N {
		fetchEnvelopes(b, c, benchMessages)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchMessages), "µs/msg")
}

// BenchmarkSearchSubject is UID SEARCH SUBJECT "topic 7" on a warm folder
// of benchMessages messages.
func BenchmarkSearchSubject(b *testing.B) {
	_, c := benchFolder(b, benchMessages)
	criteria := &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "topic 7"}}}
	want := 0
	for i := range benchMessages {
		if i%13 == 7 {
			want++
		}
	}
	b.ResetTimer()
	for range b.N {
		data, err := c.UIDSearch(criteria, nil).Wait()
		if err != nil || len(data.AllUIDs()) != want {
			b.Fatalf("UID SEARCH SUBJECT: %d, %v", len(data.AllUIDs()), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchMessages), "µs/msg")
}

// BenchmarkSelectFlags is a new connection's LOGIN, SELECT INBOX and
// UID FETCH 1:* (FLAGS) on a folder of benchMessages messages.
func BenchmarkSelectFlags(b *testing.B) {
	ts, first := benchFolder(b, benchMessages)
	first.Logout().Wait()
	b.ResetTimer()
	for range b.N {
		c, _ := ts.selectBox("INBOX")
		all := goimap.UIDSetNum()
		all.AddRange(1, 0)
		msgs, err := c.Fetch(all, &goimap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil || len(msgs) != benchMessages {
			b.Fatalf("UID FETCH 1:* (FLAGS): %d messages, %v", len(msgs), err)
		}
		c.Logout().Wait()
		c.Close()
	}
}
