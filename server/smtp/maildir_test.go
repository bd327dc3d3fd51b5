package smtp

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/maildir"
)

// maildirStore is the adapter main uses (doc.go).
func maildirStore(t testing.TB) (Mailstore, string) {
	t.Helper()
	root := t.TempDir()
	st, err := maildir.Open(maildir.Options{Root: root, NoInotify: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return StoreFunc(func(max int64) (Delivery, error) {
		d, err := st.NewDelivery(max)
		if err != nil {
			return nil, err
		}
		return d, nil
	}), root
}

func newFiles(t testing.TB, root, user string) []string {
	t.Helper()
	local, domain, _ := strings.Cut(user, "@")
	files, err := filepath.Glob(filepath.Join(root, domain, local, "new", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Through the real maildir package: the file in new/ is the message with
// LF line ends (DESIGN.md §3), trace fields first, both recipients share
// it; a refused message leaves nothing behind.
func TestRealMaildirDelivery(t *testing.T) {
	store, root := maildirStore(t)
	h := newHarness(t, MX, func(o *Options) {
		o.Store = store
		o.Limits.MaxMessageSize = 4096
	})
	c := h.client("")
	body := "Subject: real\r\n\r\n.dot\r\n\xc3\xa9t\xe9\r\n"
	if err := send(c, "x@example.net", []string{alice, bob}, body); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{alice, bob} {
		files := newFiles(t, root, u)
		if len(files) != 1 {
			t.Fatalf("%s: %d files in new/", u, len(files))
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		got := string(data)
		if !strings.HasPrefix(got, "Return-Path: <x@example.net>\nReceived: from client.example.net ([127.0.0.1])\n") ||
			!strings.HasSuffix(got, "+0000\nSubject: real\n\n.dot\n\xc3\xa9t\xe9\n") || strings.Contains(got, "\r") {
			t.Errorf("%s: stored %q", u, got)
		}
	}
	wantReply(t, send(c, "x@example.net", []string{alice}, "Subject: big\r\n\r\n"+strings.Repeat("x", 5000)+"\r\n"), 552, "5.3.4")
	if n := len(newFiles(t, root, alice)); n != 1 {
		t.Errorf("%d files after a refused message", n)
	}
	spool, _ := filepath.Glob(filepath.Join(root, ".tmp", "*"))
	tmp, _ := filepath.Glob(filepath.Join(root, "example.org", "*", "tmp", "*"))
	if len(spool)+len(tmp) != 0 {
		t.Errorf("left behind: %v %v", spool, tmp)
	}
}

// BenchmarkMaildirDelivery sends 5 KB messages through the whole stack
// into real Maildirs (fsync on), from 1 or 20 clients.
func BenchmarkMaildirDelivery(b *testing.B) {
	msg := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("b", 78)+"\r\n", 64)
	for _, clients := range []int{1, 20} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			store, _ := maildirStore(b)
			opts, _, _, _ := baseOptions(b, MX)
			opts.Store = store
			opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := New(opts)
			ln := listen(b)
			go srv.Serve(ln)
			defer srv.Shutdown(b.Context())
			var next sync.Mutex
			left := b.N
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := gosmtp.Dial(ln.Addr().String())
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					if err := c.Hello("bench.example"); err != nil {
						b.Error(err)
						return
					}
					for {
						next.Lock()
						if left == 0 {
							next.Unlock()
							return
						}
						left--
						next.Unlock()
						if err := send(c, "x@example.net", []string{alice}, msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
