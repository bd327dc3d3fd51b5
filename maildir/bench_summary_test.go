package maildir

import (
	"testing"
)

// BenchmarkSummaryWarm reads the summary of every message of a 10,000
// message folder whose cache is full: what IMAP's FETCH 1:* (ENVELOPE)
// costs in storage on a warm folder.
func BenchmarkSummaryWarm(b *testing.B) {
	s, _ := benchStore(b, 10000)
	mb, err := s.OpenMailbox(boxAddr, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range mb.Messages() {
		if _, err := mb.Summary(m.UID); err != nil {
			b.Fatal(err)
		}
	}
	mb.Close()
	mb, err = s.OpenMailbox(boxAddr, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	defer mb.Close()
	uids := make([]uint32, 0, mb.Len())
	for _, m := range mb.Messages() {
		uids = append(uids, m.UID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, u := range uids {
			if _, err := mb.Summary(u); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(uids)), "µs/msg")
}
