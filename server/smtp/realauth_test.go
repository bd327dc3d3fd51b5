package smtp

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/maildird/maildird/server/auth"
)

// With server/auth's real Store and Authenticator: users, +tags, aliases,
// and failed logins going through the throttle (its sleeps recorded).
func TestWithRealAuth(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := auth.Open(t.TempDir(), auth.Options{Domains: []string{"example.org"}, Logger: quiet, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{alice, bob} {
		if err := st.AddUser(u, "pw of "+u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddAlias("family@example.org", []string{alice, bob}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var slept []time.Duration
	authn := auth.NewAuthenticator(st, auth.ThrottleOptions{Sleep: func(_ context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}})
	h := newHarness(t, Submission, func(o *Options) {
		o.Directory = st
		o.Auth = authn
	})
	c := h.client("127.0.0.1")
	wantReply(t, c.Auth(sasl.NewPlainClient("", alice, "wrong")), 535, "5.7.8")
	mu.Lock()
	if len(slept) != 1 || slept[0] <= 0 {
		t.Errorf("failed login not slowed down: %v", slept)
	}
	mu.Unlock()
	if err := c.Auth(sasl.NewPlainClient("", "Alice@Example.org", "pw of "+alice)); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "family@example.org", []string{"bob+x@example.org", "family@example.org"}, "From: family@example.org\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	if len(h.store.messages(bob)) != 1 || len(h.store.messages(alice)) != 1 {
		t.Errorf("alice %d bob %d", len(h.store.messages(alice)), len(h.store.messages(bob)))
	}
	wantReply(t, c.Mail("nobody@example.org", nil), 553, "5.7.1")
	if err := c.Mail(alice, nil); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt("nobody@example.org", nil), 550, "5.1.1")
}
