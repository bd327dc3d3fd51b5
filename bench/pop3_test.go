package bench

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildird/maildird/internal/dovecottest"
	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/pop3"
)

const (
	benchUser = "alice@example.org"
	benchPass = "bench secret"
)

// fillMaildir delivers n messages of about 3 KB into the user's INBOX.
func fillMaildir(b *testing.B, store *maildir.Store, n int) {
	b.Helper()
	body := strings.Repeat("This line pads the message to a typical size.\r\n", 60)
	for i := range n {
		var id [8]byte
		rand.Read(id[:])
		msg := fmt.Sprintf("From: bob@example.net\r\nTo: %s\r\nSubject: message %d\r\nMessage-ID: <%s@example.net>\r\n\r\n%s", benchUser, i, hex.EncodeToString(id[:]), body)
		if _, err := store.Deliver(benchUser, "", strings.NewReader(msg), 0); err != nil {
			b.Fatal(err)
		}
	}
}

// popSession logs in and runs STAT, UIDL and RETR of every message, the
// way a client downloads a whole maildrop; it returns the messages read.
// It leaves without QUIT so that neither server changes the Maildir.
func popSession(b *testing.B, addr string) int {
	b.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		return l
	}
	cmd := func(s string) string {
		fmt.Fprintf(w, "%s\r\n", s)
		w.Flush()
		l := line()
		if !strings.HasPrefix(l, "+OK") {
			b.Fatalf("%s: %q", s, l)
		}
		return l
	}
	multi := func() {
		for line() != ".\r\n" {
		}
	}
	line() // greeting
	cmd("USER " + benchUser)
	cmd("PASS " + benchPass)
	var count int
	fmt.Sscanf(cmd("STAT"), "+OK %d", &count)
	cmd("UIDL")
	multi()
	for i := 1; i <= count; i++ {
		cmd(fmt.Sprintf("RETR %d", i))
		multi()
	}
	return count
}

// BenchmarkPOP3VsDovecot downloads a 10,000-message INBOX from maildird
// and from Dovecot's pop3, both serving the same Maildir.
func BenchmarkPOP3VsDovecot(b *testing.B) {
	const messages = 10000
	dir := b.TempDir()
	root := filepath.Join(dir, "mail")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := maildir.Open(maildir.Options{Root: root, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	fillMaildir(b, store, messages)
	// Assign UIDs once, as a first login would, so neither server pays
	// for it in the timed part.
	if mb, err := store.OpenMailbox(benchUser, "INBOX"); err != nil {
		b.Fatal(err)
	} else {
		mb.Close()
	}

	users, err := auth.Open(filepath.Join(dir, "data"), auth.Options{Domains: []string{"example.org"}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if err := users.AddUser(benchUser, benchPass); err != nil {
		b.Fatal(err)
	}
	srv := pop3.New(pop3.Options{Store: pop3.MaildirStore{Store: store}, Auth: auth.NewAuthenticator(users, auth.ThrottleOptions{}), Logger: quiet})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(b.Context())

	dc := dovecottest.Start(b, dovecottest.Options{MailRoot: root, Users: map[string]string{benchUser: benchPass}})
	// Warm both (page cache, Dovecot's index) before timing.
	popSession(b, ln.Addr().String())
	popSession(b, dc.POP3Addr)

	var ours, theirs time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if n := popSession(b, ln.Addr().String()); n != messages {
			b.Fatalf("maildird served %d messages, want %d", n, messages)
		}
		ours += time.Since(start)
		start = time.Now()
		if n := popSession(b, dc.POP3Addr); n != messages {
			b.Fatalf("Dovecot served %d messages, want %d", n, messages)
		}
		theirs += time.Since(start)
	}
	oursRate := float64(messages*b.N) / ours.Seconds()
	theirRate := float64(messages*b.N) / theirs.Seconds()
	b.ReportMetric(oursRate, "maildird-msgs/s")
	b.ReportMetric(theirRate, "dovecot-msgs/s")
	b.ReportMetric(oursRate/theirRate, "ratio")
}
