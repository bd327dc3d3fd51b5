// Package mailgen writes generated mailboxes for benchmarks: the shape of
// a real INBOX (a spread of senders, subjects and flags, typical sizes),
// made in seconds by writing the files straight into a Maildir's cur/
// under Dovecot's file names with S= and W=.
package mailgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Maildir writes n messages into the Maildir at dir (cur/ new/ tmp/ are
// created). Message i has subject "Message number i about topic i%13",
// is from one of 97 senders and is dated one minute after message i-1.
func Maildir(dir string, n int) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("mailgen: %w", err)
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
			return fmt.Errorf("mailgen: %w", err)
		}
		if err := os.Chtimes(path, date, date); err != nil {
			return fmt.Errorf("mailgen: %w", err)
		}
	}
	return nil
}
