package imap

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/maildird/maildird/internal/dovecottest"
	"github.com/maildird/maildird/maildir"
)

// dovecotSpecialUse gives Dovecot the special-use folders maildird makes
// at the first login (RFC 6154), so both describe them the same way.
const dovecotSpecialUse = `
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
  }
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Junk {
    special_use = \Junk
  }
  mailbox Archive {
    special_use = \Archive
  }
}
`

// TestDovecotListComparison: folders made through maildird, then the
// same LIST, LSUB and STATUS commands to maildird and to a Dovecot on the
// same Maildir. Untagged answers are compared as sets: Dovecot lists
// folders in the order readdir gives them.
func TestDovecotListComparison(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mail")
	box := filepath.Join(root, "example.org", "alice")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(box, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mc := dialRaw(t, serveMailRoot(t, root))
	mc.ok("LOGIN " + ctUser + " " + ctPass) // makes and subscribes the special-use folders
	for _, cmd := range []string{"CREATE Family/Photos", "CREATE Work", "CREATE \"With Space\"", "CREATE Caf&AOk-",
		"SUBSCRIBE Work", "SUBSCRIBE Family/Photos", "UNSUBSCRIBE Archive",
		"CREATE Gone", "SUBSCRIBE Gone", "DELETE Gone"} {
		mc.ok(cmd)
	}
	d := dovecottest.Start(t, dovecottest.Options{MailRoot: root, Users: map[string]string{ctUser: ctPass}, Extra: dovecotSpecialUse})
	dc := dialRaw(t, d.IMAPAddr)
	dc.ok("LOGIN " + ctUser + " " + ctPass)

	for _, cmd := range []string{
		`LIST "" ""`, `LIST "" "*"`, `LIST "" "%"`, `LIST "" "Family/%"`, `LIST "" "Fam*"`, `LIST "" "inbox"`,
		`LSUB "" "*"`, `LSUB "" "%"`,
		`LIST (SUBSCRIBED) "" "*"`, `LIST (SPECIAL-USE) "" "*"`,
		`LIST "" "*" RETURN (SPECIAL-USE)`, `LIST "" "*" RETURN (CHILDREN)`, `LIST "" "*" RETURN (SUBSCRIBED)`,
		`LIST "" ("Work" "Sent")`, `LIST "" "*" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)`,
		`LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN SPECIAL-USE)`, `LIST "" "Caf&AOk-"`, `LIST "" "With*"`,
	} {
		want, got := dc.do(cmd), mc.do(cmd)
		if !sameSet(got, want) {
			t.Errorf("%s:\n maildird %q\n  dovecot %q", cmd, got, want)
		}
	}
}

// sameSet compares the untagged lines as sets and the status.
func sameSet(a, b []string) bool {
	if len(a) != len(b) || stripTag(a[len(a)-1]) != stripTag(b[len(b)-1]) {
		return false
	}
	x, y := slices.Clone(a[:len(a)-1]), slices.Clone(b[:len(b)-1])
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// TestDovecotFlagsComparison: FLAGS, keywords and \Recent as Dovecot
// gives them, each server on its own copy of the same Maildir (\Recent
// goes to the first process that records a message). Messages in cur/
// with flags and keywords in their names and a UID in the uidlist, one in
// new/ without: the new one is \Recent for each server's first session,
// nothing for its second. In a folder without a uidlist every message is
// new to the server.
func TestDovecotFlagsComparison(t *testing.T) {
	files := map[string]string{
		"dovecot-keywords": "0 $Forwarded\n1 Work\n",
		"dovecot-uidlist": "3 V1700000000 N6\n1 :1700000001.M1P1.h\n2 :1700000002.M2P1.h\n3 :1700000003.M3P1.h\n" +
			"4 :1700000004.M4P1.h\n5 :1700000005.M5P1.h\n",
		"cur/1700000001.M1P1.h:2,": "", "cur/1700000002.M2P1.h:2,S": "", "cur/1700000003.M3P1.h:2,FRS": "",
		"cur/1700000004.M4P1.h:2,Sab": "", "cur/1700000005.M5P1.h:2,DT": "", "new/1700000006.M6P1.h": "",
	}
	for name, uidlist := range map[string]bool{"with a uidlist": true, "without": false} {
		t.Run(name, func(t *testing.T) {
			var mroot, droot string
			for _, root := range []*string{&mroot, &droot} {
				*root = filepath.Join(t.TempDir(), "mail")
				box := filepath.Join(*root, "example.org", "alice")
				for _, d := range []string{"cur", "new", "tmp"} {
					if err := os.MkdirAll(filepath.Join(box, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				for f, content := range files {
					if !uidlist && f != "cur/1700000002.M2P1.h:2,S" {
						continue // one message: the UID order is then no question
					}
					if content == "" {
						content = "Subject: " + f + "\r\n\r\nbody\r\n"
					}
					if err := os.WriteFile(filepath.Join(box, f), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			addr := serveMailRoot(t, mroot)
			session := func(addr string) *rawClient {
				c := dialRaw(t, addr)
				c.ok("LOGIN " + ctUser + " " + ctPass)
				c.ok("SELECT INBOX")
				return c
			}
			d := dovecottest.Start(t, dovecottest.Options{MailRoot: droot, Users: map[string]string{ctUser: ctPass}})
			m1, d1 := session(addr), session(d.IMAPAddr)
			m2, d2 := session(addr), session(d.IMAPAddr)
			for _, cmd := range []string{"FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)", "FETCH 1:* (UID FLAGS RFC822.SIZE)"} {
				for i, pair := range [][2]*rawClient{{m1, d1}, {m2, d2}} {
					got, want := pair[0].do(cmd), pair[1].do(cmd)
					if !sameLines(got, want) {
						t.Errorf("session %d, %s:\n maildird %q\n  dovecot %q", i+1, cmd, got, want)
					}
				}
			}
		})
	}
}

// serveMailRoot serves the Maildirs under root, ctUser's password ctPass,
// on 127.0.0.1 until the test ends, and returns the address.
func serveMailRoot(t *testing.T, root string) string {
	t.Helper()
	store, err := maildir.Open(maildir.Options{Root: root, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Hostname: "mail.example.org", Store: store, Logger: quietLog(),
		Auth: &testAuth{users: map[string]string{ctUser: ctPass}}, TLS: &tls.Config{}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}
