package maildir

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// benchStore makes a Store with an INBOX of n messages in cur/, named the
// way deliveries are ("<unique>,S=,W=:2,<flags>"), and no uidlist.
func benchStore(b *testing.B, n int) (*Store, string) {
	b.Helper()
	s, err := Open(Options{Root: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	dir, err := s.ensureUserRoot(boxAddr)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("Subject: benchmark\n\nbody\n")
	flags := []string{"", "S", "FS", "RS"}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%d.M%dP4242Q%d.bench,S=%d,W=%d:2,%s", 1700000000+i/100, i%1000000, i, len(body), len(body)+3, flags[i%len(flags)])
		if err := os.WriteFile(filepath.Join(dir, "cur", name), body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	settle(b, dir)
	return s, dir
}

// settle dates the folder's directories and uidlist an hour back, as if
// the mailbox had been left alone since: otherwise changes made within the
// last second force every open to read the directories (the same-second
// rule), and a benchmark would measure that instead.
func settle(b testing.TB, dir string) {
	b.Helper()
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"new", "cur", uidlistName} {
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
	}
}

func benchSizes(b *testing.B, run func(b *testing.B, n int, s *Store, dir string)) {
	for _, n := range []int{10000, 100000} {
		var s *Store
		var dir string
		outer := b
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			if s == nil {
				s, dir = benchStore(outer, n) // outlives each b.N round
			}
			run(b, n, s, dir)
		})
	}
}

// BenchmarkOpenCold: first open, no uidlist: every file is read from the
// directory, stat'ed and given a UID, and the uidlist is written.
func BenchmarkOpenCold(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, s *Store, dir string) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			os.Remove(filepath.Join(dir, uidlistName))
			b.StartTimer()
			m, err := s.OpenMailbox(boxAddr, "INBOX")
			if err != nil {
				b.Fatal(err)
			}
			if m.Len() != n {
				b.Fatalf("%d messages", m.Len())
			}
			m.Close()
		}
	})
}

// BenchmarkOpenWarm: re-open of an unchanged mailbox with an up-to-date
// uidlist: the view comes from maildird-index. It also reports the heap an
// open Mailbox holds per message.
func BenchmarkOpenWarm(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, s *Store, dir string) {
		benchOpenWarm(b, n, s, dir)
	})
}

// BenchmarkOpenWarmNoIndex: the same without the index: cur/ and the
// uidlist are read and matched.
func BenchmarkOpenWarmNoIndex(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, s *Store, dir string) {
		s.indexMin = math.MaxInt
		defer func() { s.indexMin = defaultIndexMin }()
		os.Remove(filepath.Join(dir, indexName))
		benchOpenWarm(b, n, s, dir)
	})
}

func benchOpenWarm(b *testing.B, n int, s *Store, dir string) {
	// First opens: the uidlist is written, then (once it is settled) the
	// index.
	for i := 0; i < 2; i++ {
		m, err := s.OpenMailbox(boxAddr, "INBOX")
		if err != nil {
			b.Fatal(err)
		}
		m.Close()
		if i == 0 {
			settle(b, dir)
		}
	}
	runtime.GC() // the garbage of the first opens is not the warm open's
	var before, after runtime.MemStats
	var heap float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		measure := i == 0
		if measure {
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()
		}
		m, err := s.OpenMailbox(boxAddr, "INBOX")
		if err != nil {
			b.Fatal(err)
		}
		if m.Len() != n {
			b.Fatalf("%d messages", m.Len())
		}
		if measure {
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
			runtime.KeepAlive(m)
			b.StartTimer()
		}
		m.Close()
	}
	b.ReportMetric(heap, "heapB/msg")
}

// BenchmarkMessages: the view with dates (stat of every file, once per
// open) and then as a []Message.
func BenchmarkMessages(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, s *Store, dir string) {
		m, err := s.OpenMailbox(boxAddr, "INBOX")
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		m.loadDates()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if len(m.Messages()) != n {
				b.Fatal("short")
			}
		}
	})
}

// BenchmarkSyncOneNew: a file appears in new/; Sync gives it a UID and
// moves it to cur/.
func BenchmarkSyncOneNew(b *testing.B) {
	benchSizes(b, func(b *testing.B, n int, s *Store, dir string) {
		m, err := s.OpenMailbox(boxAddr, "INBOX")
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		m.Sync()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("new%d.%d.%d,S=2,W=3", n, b.N, i)), []byte("x\n"), 0o600)
			b.StartTimer()
			ch, err := m.Sync()
			if err != nil || len(ch.New) != 1 {
				b.Fatalf("%+v %v", ch, err)
			}
		}
	})
}
