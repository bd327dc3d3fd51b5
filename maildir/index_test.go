package maildir

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// indexBox makes an INBOX of n messages in cur/, one of them flagged, with
// its uidlist written and everything dated an hour back, and lets every
// folder have an index.
func indexBox(t *testing.T, n int) (*Store, string) {
	t.Helper()
	s, _ := newBoxStore(t)
	s.indexMin = 1
	dir := boxInboxDir(t, s)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("17000000%02d.M%dP1.host,S=2,W=3:2,", i, i)
		if i == 1 {
			name += "FS"
		}
		if err := os.WriteFile(filepath.Join(dir, "cur", name), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	boxOpen(t, s, "INBOX").Close() // writes the uidlist
	settle(t, dir)
	return s, dir
}

// viewOf is what a test compares of two views.
func viewOf(m *Mailbox) []string {
	var out []string
	for i := 0; i < m.Len(); i++ {
		msg := m.At(i)
		out = append(out, fmt.Sprintf("%d %s %s %d %v", msg.UID, msg.Base, msg.Flags, msg.Size, msg.Keywords))
	}
	return append(out, fmt.Sprintf("V%d N%d", m.UIDValidity(), m.UIDNext()))
}

// indexLoads reports whether a fresh Mailbox of dir takes its view from
// the index, and that view.
func indexLoads(s *Store, dir string) (bool, *Mailbox) {
	m := &Mailbox{s: s, addr: boxAddr, folder: "INBOX", dir: dir}
	return m.loadIndex(), m
}

func TestIndexWrittenWhenSettledAndUsed(t *testing.T) {
	s, dir := indexBox(t, 5)
	m := boxOpen(t, s, "INBOX") // settled: reads the directories, writes the index
	want := viewOf(m)
	m.Close()
	if _, err := os.Stat(filepath.Join(dir, indexName)); err != nil {
		t.Fatalf("no index: %v", err)
	}
	ok, im := indexLoads(s, dir)
	if !ok {
		t.Fatal("a valid index was not used")
	}
	// The dates come from the index: a warm open stats no file for them.
	for i := range im.recs {
		r := &im.recs[i]
		fi, err := os.Stat(filepath.Join(dir, "cur", string(im.names[r.nameOff:r.nameOff+uint32(r.nameLen)])))
		if err != nil || r.mtime != fi.ModTime().UnixNano() {
			t.Fatalf("UID %d: date %d from the index, file %v (%v)", r.uid, r.mtime, fi.ModTime().UnixNano(), err)
		}
	}
	if got := viewOf(im); !slices.Equal(got, want) {
		t.Fatalf("view from the index\n got %q\nwant %q", got, want)
	}
	m = boxOpen(t, s, "INBOX")
	if got := viewOf(m); !slices.Equal(got, want) {
		t.Fatalf("re-open\n got %q\nwant %q", got, want)
	}
	if ch := boxSync(t, m); !ch.Empty() {
		t.Fatalf("changes after an indexed open: %+v", ch)
	}
}

// Changes within the second before a read may be followed by others with
// the same mtime: such a view is never written as an index.
func TestIndexNotWrittenWithinTheSecond(t *testing.T) {
	s, dir := indexBox(t, 3)
	os.WriteFile(filepath.Join(dir, "cur", "1800000000.fresh.host:2,"), []byte("y\n"), 0o600)
	m := boxOpen(t, s, "INBOX")
	defer m.Close()
	if m.Len() != 4 {
		t.Fatalf("%d messages", m.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, indexName)); !os.IsNotExist(err) {
		t.Fatalf("index written for a view read within the second of a change: %v", err)
	}
	// Once the directory is older than a second at the read, Sync writes it.
	settle(t, dir)
	boxSync(t, m)
	if ok, _ := indexLoads(s, dir); !ok {
		t.Fatal("Sync of a settled folder did not write a usable index")
	}
}

// An index that records a read made within the second of the stamps it
// holds is refused, even with a good checksum.
func TestIndexSameSecondRuleOnLoad(t *testing.T) {
	s, dir := indexBox(t, 3)
	boxOpen(t, s, "INBOX").Close()
	path := filepath.Join(dir, indexName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// cur/'s record: after the magic and new/'s 32 bytes; scanAt is its
	// fourth field. Put the read half a second after cur/'s mtime.
	off := len(indexMagic) + 32
	mtime := int64(binary.LittleEndian.Uint64(data[off+16:]))
	binary.LittleEndian.PutUint64(data[off+24:], uint64(mtime+int64(500*time.Millisecond)))
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[:len(data)-4], castagnoli))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, _ := indexLoads(s, dir); ok {
		t.Fatal("an index read within the second of cur/'s mtime was trusted")
	}
}

// Whatever differs from what the index recorded makes the folder be read
// from its files; the view is then exactly what the files say.
func TestIndexNeverTrustedOverFiles(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, s *Store, dir string)
		check  func(t *testing.T, m *Mailbox)
	}{
		{"file dropped into new", func(t *testing.T, s *Store, dir string) {
			os.WriteFile(filepath.Join(dir, "new", "1800000000.ext.host"), []byte("z\n"), 0o600)
		}, func(t *testing.T, m *Mailbox) {
			if m.Len() != 6 {
				t.Errorf("%d messages, want 6", m.Len())
			}
		}},
		{"message removed", func(t *testing.T, s *Store, dir string) {
			os.Remove(filepath.Join(dir, "cur", "1700000002.M2P1.host,S=2,W=3:2,"))
		}, func(t *testing.T, m *Mailbox) {
			if _, ok := m.Index(3); ok || m.Len() != 4 {
				t.Errorf("UID 3 still there (%d messages)", m.Len())
			}
		}},
		{"uidlist rebuilt with the same size and an old mtime", func(t *testing.T, s *Store, dir string) {
			path := filepath.Join(dir, uidlistName)
			ul := boxReadUL(t, dir)
			st, _ := os.Stat(path)
			ul.validity++
			writeFileAtomic(path, 0o600, owner{}, ul.writeTo)
			os.Chtimes(path, st.ModTime(), st.ModTime())
		}, func(t *testing.T, m *Mailbox) {
			if want := boxReadUL(t, m.dir).validity; m.UIDValidity() != want {
				t.Errorf("UIDVALIDITY %d, want %d from the uidlist", m.UIDValidity(), want)
			}
		}},
		{"corrupt checksum", func(t *testing.T, s *Store, dir string) {
			path := filepath.Join(dir, indexName)
			data, _ := os.ReadFile(path)
			data[len(data)-10] ^= 0xff
			os.WriteFile(path, data, 0o600)
		}, nil},
		{"truncated", func(t *testing.T, s *Store, dir string) {
			path := filepath.Join(dir, indexName)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o600)
		}, nil},
		{"another version", func(t *testing.T, s *Store, dir string) {
			path := filepath.Join(dir, indexName)
			data, _ := os.ReadFile(path)
			data[len(indexMagic)-2] = '9'
			os.WriteFile(path, data, 0o600)
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := indexBox(t, 5)
			boxOpen(t, s, "INBOX").Close()
			if ok, _ := indexLoads(s, dir); !ok {
				t.Fatal("no valid index to start from")
			}
			tc.change(t, s, dir)
			if ok, _ := indexLoads(s, dir); ok {
				t.Fatal("the index was trusted")
			}
			m := boxOpen(t, s, "INBOX")
			defer m.Close()
			// The reference: the same folder read without any index.
			os.Remove(filepath.Join(dir, indexName))
			ref := boxOpen(t, s, "INBOX")
			defer ref.Close()
			if got, want := viewOf(m), viewOf(ref); !slices.Equal(got, want) {
				t.Fatalf("view\n got %q\nwant %q", got, want)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// A read-only open keeps new/ files where they are, also in the index; a
// read-write open from that index moves them to cur/ with their UIDs.
func TestIndexWithFilesInNew(t *testing.T) {
	s, dir := indexBox(t, 3)
	res := boxDeliver(t, s, "", "Subject: n\n\nnew\n")
	ro, err := s.OpenMailboxReadOnly(boxAddr, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	settle(t, dir)
	ro, _ = s.OpenMailboxReadOnly(boxAddr, "INBOX") // writes the index
	want := viewOf(ro)
	ro.Close()
	ok, im := indexLoads(s, dir)
	if !ok || !im.recs[len(im.recs)-1].inNew {
		t.Fatalf("index used %v, last message in new/ %v", ok, ok && im.recs[len(im.recs)-1].inNew)
	}
	m := boxOpen(t, s, "INBOX")
	defer m.Close()
	if got := viewOf(m); !slices.Equal(got, want) {
		t.Fatalf("view\n got %q\nwant %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "cur", res.Base+":2,")); err != nil {
		t.Fatalf("not moved to cur/: %v", err)
	}
	if got := boxRead(t, m, 4); got != "Subject: n\r\n\r\nnew\r\n" {
		t.Fatalf("content %q", got)
	}
}
