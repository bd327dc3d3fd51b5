package imap

import (
	"path/filepath"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildird/maildird/internal/mailgen"
)

// benchMessages is the size of the folder the benchmarks below use.
const benchMessages = 10000

// benchFolder writes n messages into alice's INBOX cur/ (the mailbox
// bench/imap_test.go compares with Dovecot on), and
// returns a client with INBOX selected whose summaries are in the cache.
func benchFolder(b *testing.B, n int) (*testServer, *imapclient.Client) {
	b.Helper()
	ts := newTestServer(b, nil)
	if err := mailgen.Maildir(filepath.Join(ts.root, "example.org", "alice"), n); err != nil {
		b.Fatal(err)
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
