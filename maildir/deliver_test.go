package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeliverNameAndSizes(t *testing.T) {
	s, _ := newBoxStore(t)
	// FORMATS.md: a 71-byte CRLF message of 5 lines is stored as 66 bytes.
	body := "From: a@b\r\nTo: c@d\r\nSubject: hello there\r\n\r\nThe body line of it here!\r\n"
	if len(body) != 71 {
		t.Fatalf("fixture is %d bytes", len(body))
	}
	res := boxDeliver(t, s, "", body)
	if !strings.HasSuffix(res.Base, ",S=66,W=71") || res.Size != 71 || res.Folder != "INBOX" {
		t.Fatalf("result %+v", res)
	}
	data, err := os.ReadFile(filepath.Join(boxInboxDir(t, s), "new", res.Base))
	if err != nil || strings.Contains(string(data), "\r") || len(data) != 66 {
		t.Fatalf("stored %q %v", data, err)
	}
	if b, c, err := s.Usage(boxAddr); err != nil || b < 66 || c < 1 {
		t.Fatalf("usage %d %d %v", b, c, err)
	}
}

func TestDeliverTooBigLeavesNothing(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	if _, err := s.Deliver(boxAddr, "", strings.NewReader(strings.Repeat("x\n", 100)), 150); !errors.Is(err, ErrTooBig) {
		t.Fatalf("err %v", err)
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, sub)); len(ents) != 0 {
			t.Fatalf("%s/ holds %v", sub, ents)
		}
	}
	if _, err := s.Deliver(boxAddr, "", strings.NewReader(strings.Repeat("x\n", 50)), 150); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
}

func TestDeliverToFolder(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxMakeFolder(t, s, "Lists/Go")
	res := boxDeliver(t, s, "Lists/Go", "x\n")
	if _, err := os.Stat(filepath.Join(dir, "new", res.Base)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(boxAddr, "Missing", strings.NewReader("x"), 0); !errors.Is(err, ErrNoSuchFolder) {
		t.Fatal(err)
	}
	if _, err := s.Deliver(boxAddr, "../../etc", strings.NewReader("x"), 0); !errors.Is(err, ErrBadFolderName) {
		t.Fatal(err)
	}
}

func TestDeliveryMultiRecipient(t *testing.T) {
	s, _ := newBoxStore(t)
	d, err := s.NewDelivery(1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"alice@example.org", "bob@example.org", "alice@example.org"} {
		if err := d.AddRecipient(a, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Written in pieces, a CR at the end of one piece.
	for _, p := range []string{"Subject: hi\r", "\n\r\nbody\r", "\n"} {
		if _, err := d.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"alice", "bob"} {
		files, _ := filepath.Glob(filepath.Join(s.Root(), "example.org", a, "new", "*"))
		if len(files) != 1 || !strings.HasSuffix(files[0], ",S=18,W=21") {
			t.Fatalf("%s: %v", a, files)
		}
		data, _ := os.ReadFile(files[0])
		if string(data) != "Subject: hi\n\nbody\n" {
			t.Fatalf("content %q", data)
		}
	}
	if spool, _ := os.ReadDir(filepath.Join(s.Root(), spoolDir)); len(spool) != 0 {
		t.Fatalf("spool left %v", spool)
	}
	if err := d.Commit(); err == nil {
		t.Fatal("second commit accepted")
	}
}

func TestDeliveryTooBigAndAbort(t *testing.T) {
	s, _ := newBoxStore(t)
	d, _ := s.NewDelivery(10)
	d.AddRecipient(boxAddr, "")
	if _, err := d.Write([]byte("0123456789abc")); !errors.Is(err, ErrTooBig) {
		t.Fatalf("err %v", err)
	}
	if err := d.Commit(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("commit %v", err)
	}
	d2, _ := s.NewDelivery(0)
	d2.AddRecipient(boxAddr, "")
	d2.Write([]byte("x\n"))
	if err := d2.Abort(); err != nil {
		t.Fatal(err)
	}
	if spool, _ := os.ReadDir(filepath.Join(s.Root(), spoolDir)); len(spool) != 0 {
		t.Fatalf("spool left %v", spool)
	}
	if ents, _ := os.ReadDir(filepath.Join(boxInboxDir(t, s), "new")); len(ents) != 0 {
		t.Fatalf("delivered after abort: %v", ents)
	}
	if err := d2.AddRecipient("../x@y", ""); err == nil {
		t.Fatal("recipient after abort accepted")
	}
}

// A failure at the second recipient takes the first link back.
func TestDeliveryCommitRollsBack(t *testing.T) {
	s, _ := newBoxStore(t)
	d, _ := s.NewDelivery(0)
	d.AddRecipient("alice@example.org", "")
	d.AddRecipient("bob@example.org", "")
	d.Write([]byte("x\n"))
	// bob's new/ turns into a file: no link or rename can go there (this
	// fails also for root, who ignores permissions).
	bobNew := filepath.Join(s.Root(), "example.org", "bob", "new")
	if err := os.Remove(bobNew); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bobNew, nil, 0o600)
	if err := d.Commit(); err == nil {
		t.Fatal("commit succeeded")
	}
	if files, _ := filepath.Glob(filepath.Join(s.Root(), "example.org", "alice", "new", "*")); len(files) != 0 {
		t.Fatalf("alice kept %v", files)
	}
}
