package maildir

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const boxAddr = "alice@example.org"

// boxLogs collects log output for assertions; safe for concurrent use.
type boxLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *boxLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *boxLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newBoxStore(t testing.TB) (*Store, *boxLogs) {
	t.Helper()
	logs := &boxLogs{}
	s, err := Open(Options{Root: t.TempDir(), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func boxInboxDir(t testing.TB, s *Store) string {
	t.Helper()
	root, err := s.ensureUserRoot(boxAddr)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// boxMakeFolder creates a folder directory the way Dovecot lays it out.
func boxMakeFolder(t testing.TB, s *Store, name string) string {
	t.Helper()
	boxInboxDir(t, s)
	dir, err := s.folderDir(boxAddr, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func boxDeliver(t testing.TB, s *Store, folder, body string) DeliveryResult {
	t.Helper()
	res, err := s.Deliver(boxAddr, folder, strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func boxOpen(t testing.TB, s *Store, folder string) *Mailbox {
	t.Helper()
	m, err := s.OpenMailbox(boxAddr, folder)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func boxSync(t testing.TB, m *Mailbox) Changes {
	t.Helper()
	ch, err := m.Sync()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func boxUIDs(m *Mailbox) []uint32 {
	var out []uint32
	for _, msg := range m.Messages() {
		out = append(out, msg.UID)
	}
	return out
}

func boxReadUL(t testing.TB, dir string) *uidlist {
	t.Helper()
	ul, _, err := readUidlistFile(filepath.Join(dir, uidlistName))
	if err != nil {
		t.Fatal(err)
	}
	return ul
}

func boxRead(t testing.TB, m *Mailbox, uid uint32) string {
	t.Helper()
	rc, err := m.Open(uid)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenEmptyInboxWritesHeader(t *testing.T) {
	s, _ := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	if m.Len() != 0 || m.UIDNext() != 1 || m.UIDValidity() == 0 {
		t.Fatalf("len %d next %d validity %d", m.Len(), m.UIDNext(), m.UIDValidity())
	}
	data, err := os.ReadFile(filepath.Join(boxInboxDir(t, s), uidlistName))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^3 V[1-9][0-9]* N1 G[0-9a-f]{32}\n$`).Match(data) {
		t.Fatalf("header %q", data)
	}
	ul := boxReadUL(t, boxInboxDir(t, s))
	if len(ul.guid) != 32 || ul.validity != m.UIDValidity() {
		t.Fatalf("uidlist %+v", ul)
	}
	// dovecot-uidvalidity records the value, as Dovecot does.
	v, err := os.ReadFile(filepath.Join(boxInboxDir(t, s), uidvalidityName))
	if err != nil || len(v) != 8 {
		t.Fatalf("dovecot-uidvalidity %q %v", v, err)
	}
}

func TestOpenMissingFolder(t *testing.T) {
	s, _ := newBoxStore(t)
	if _, err := s.OpenMailbox(boxAddr, "Nope"); !errors.Is(err, ErrNoSuchFolder) {
		t.Fatalf("err %v", err)
	}
	for _, bad := range []string{"../x", "/etc", ".", "", "a/../b", "a\x00b"} {
		if _, err := s.OpenMailbox(boxAddr, bad); err == nil || errors.Is(err, ErrNoSuchFolder) && bad != "" {
			if bad == "" && err == nil {
				continue // "" is INBOX
			}
			t.Errorf("%q: err %v", bad, err)
		}
	}
	if _, err := s.OpenMailbox("../evil@example.org", "INBOX"); !errors.Is(err, ErrBadAddress) {
		t.Fatalf("bad address: %v", err)
	}
}

// New files get UIDs on Sync and stay in new/ (a changed cur/ would have
// to be read whole again); opening the folder moves them to cur/.
func TestDeliverSyncAssignsUIDsOpenMovesToCur(t *testing.T) {
	s, _ := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	dir := boxInboxDir(t, s)
	var bases []string
	for i := 0; i < 3; i++ {
		bases = append(bases, boxDeliver(t, s, "", "Subject: x\n\nbody\n").Base)
	}
	ch := boxSync(t, m)
	if !slices.Equal(ch.New, []uint32{1, 2, 3}) || len(ch.Expunged)+len(ch.FlagsChanged) != 0 {
		t.Fatalf("changes %+v", ch)
	}
	if m.UIDNext() != 4 {
		t.Fatalf("UIDNext %d", m.UIDNext())
	}
	msgs := m.Messages()
	for i, msg := range msgs {
		if msg.Base != bases[i] {
			t.Errorf("UID %d base %s want %s (delivery order)", msg.UID, msg.Base, bases[i])
		}
		if msg.Size != int64(len("Subject: x\r\n\r\nbody\r\n")) {
			t.Errorf("size %d", msg.Size)
		}
		if msg.Date.IsZero() || time.Since(msg.Date) > time.Minute {
			t.Errorf("date %v", msg.Date)
		}
		if _, err := os.Stat(filepath.Join(dir, "new", msg.Base)); err != nil {
			t.Errorf("Sync moved the file: %v", err)
		}
	}
	if got := boxRead(t, m, 2); got != "Subject: x\r\n\r\nbody\r\n" {
		t.Fatalf("content %q", got)
	}
	// A second session sees the same UIDs; re-open keeps them.
	m2 := boxOpen(t, s, "INBOX")
	if !slices.Equal(boxUIDs(m2), []uint32{1, 2, 3}) || m2.UIDValidity() != m.UIDValidity() {
		t.Fatalf("second view %v", boxUIDs(m2))
	}
	for _, msg := range msgs {
		if _, err := os.Stat(filepath.Join(dir, "cur", msg.Base+":2,")); err != nil {
			t.Errorf("open did not move to cur/: %v", err)
		}
	}
	// The first session follows the move: same UIDs, nothing changed.
	if got := boxRead(t, m, 3); got != "Subject: x\r\n\r\nbody\r\n" {
		t.Fatalf("content after the move %q", got)
	}
	if ch := boxSync(t, m); !ch.Empty() {
		t.Fatalf("spurious changes %+v", ch)
	}
}

func TestReadOnlyLeavesNew(t *testing.T) {
	s, _ := newBoxStore(t)
	res := boxDeliver(t, s, "", "a\n")
	m, err := s.OpenMailboxReadOnly(boxAddr, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Len() != 1 || m.UIDNext() != 2 {
		t.Fatalf("len %d next %d", m.Len(), m.UIDNext())
	}
	if _, err := os.Stat(filepath.Join(boxInboxDir(t, s), "new", res.Base)); err != nil {
		t.Fatalf("read-only open moved the file: %v", err)
	}
	if got := boxRead(t, m, 1); got != "a\r\n" {
		t.Fatalf("content %q", got)
	}
}

func TestExternalFilesGetUIDsInMtimeOrder(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	m := boxOpen(t, s, "INBOX")
	// Foreign files without ,S=/,W=, one in cur/ without ":2,"; the older
	// mtime gets the lower UID whatever the name.
	old := time.Now().Add(-time.Hour)
	files := []struct {
		path  string
		mtime time.Time
	}{
		{filepath.Join(dir, "new", "1700000002.ext.other"), old.Add(2 * time.Second)},
		{filepath.Join(dir, "new", "1700000001.ext.other"), old.Add(3 * time.Second)},
		{filepath.Join(dir, "cur", "1700000003.ext.other"), old.Add(time.Second)},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte("l1\nl2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(f.path, f.mtime, f.mtime)
	}
	ch := boxSync(t, m)
	if len(ch.New) != 3 {
		t.Fatalf("changes %+v", ch)
	}
	want := []string{"1700000003.ext.other", "1700000002.ext.other", "1700000001.ext.other"}
	for i, msg := range m.Messages() {
		if msg.Base != want[i] {
			t.Errorf("UID %d = %s, want %s", msg.UID, msg.Base, want[i])
		}
		if msg.Size != 8 {
			t.Errorf("vsize %d", msg.Size)
		}
		if !msg.Date.Equal(files[2-i].mtime) && i == 0 {
			t.Errorf("date %v", msg.Date)
		}
	}
	// Dovecot records the CRLF size of such files as a W extension.
	data, _ := os.ReadFile(filepath.Join(dir, uidlistName))
	if !strings.Contains(string(data), "1 W8 :1700000003.ext.other\n") {
		t.Fatalf("uidlist:\n%s", data)
	}
	// The view never reads files with ,W= in the name: a wrong W wins.
	name := "1700000004.M1P1.host,S=3,W=999"
	os.WriteFile(filepath.Join(dir, "cur", name+":2,S"), []byte("ab\n"), 0o600)
	boxSync(t, m)
	i, _ := m.Index(4)
	if msg := m.At(i); msg.Size != 999 || msg.Flags != FlagSeen {
		t.Fatalf("msg %+v", msg)
	}
}

func TestVanishedFilesAreExpunges(t *testing.T) {
	s, _ := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	for i := 0; i < 3; i++ {
		boxDeliver(t, s, "", "x\n")
	}
	boxSync(t, m)
	os.Remove(m.pathOf(&m.recs[1]))
	ch := boxSync(t, m)
	if !slices.Equal(ch.Expunged, []uint32{2}) || len(ch.New) != 0 {
		t.Fatalf("changes %+v", ch)
	}
	// The UID is never reused.
	boxDeliver(t, s, "", "y\n")
	ch = boxSync(t, m)
	if !slices.Equal(ch.New, []uint32{4}) {
		t.Fatalf("changes %+v", ch)
	}
	ul := boxReadUL(t, boxInboxDir(t, s))
	for _, r := range ul.recs {
		if r.uid == 2 {
			t.Fatal("expunged record kept at rewrite")
		}
	}
}

func TestCorruptUidlistRebuiltWithNewValidity(t *testing.T) {
	s, logs := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	boxDeliver(t, s, "", "x\n")
	boxSync(t, m)
	oldV := m.UIDValidity()
	dir := boxInboxDir(t, s)
	os.WriteFile(filepath.Join(dir, uidlistName), []byte("3 V1 N5 Gx\nbogus line\n"), 0o600)
	m2 := boxOpen(t, s, "INBOX")
	if m2.UIDValidity() == oldV || m2.UIDValidity() == 0 {
		t.Fatalf("validity %d, old %d", m2.UIDValidity(), oldV)
	}
	if !slices.Equal(boxUIDs(m2), []uint32{1}) {
		t.Fatalf("uids %v", boxUIDs(m2))
	}
	if !strings.Contains(logs.String(), "new UIDVALIDITY") {
		t.Fatalf("no warning logged: %s", logs)
	}
	// The first session learns that its UIDs are void.
	ch := boxSync(t, m)
	if !ch.UIDValidity || !slices.Equal(ch.Expunged, []uint32{1}) || !slices.Equal(ch.New, []uint32{1}) {
		t.Fatalf("changes %+v", ch)
	}
	if m.UIDValidity() != m2.UIDValidity() {
		t.Fatal("sessions disagree on UIDVALIDITY")
	}
	// A lost uidlist too.
	os.Remove(filepath.Join(dir, uidlistName))
	m3 := boxOpen(t, s, "INBOX")
	if m3.UIDValidity() <= m2.UIDValidity() {
		t.Fatalf("validity %d after loss, was %d", m3.UIDValidity(), m2.UIDValidity())
	}
	if !strings.Contains(logs.String(), "uidlist missing") {
		t.Fatalf("no warning for a lost uidlist: %s", logs)
	}
}

func TestUIDNextNeverGoesDown(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	os.WriteFile(filepath.Join(dir, "cur", "a:2,S"), []byte("x\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cur", "b:2,"), []byte("x\n"), 0o600)
	// The header says N3 but a record holds UID 7 (an appended record).
	os.WriteFile(filepath.Join(dir, uidlistName), []byte("3 V1700000000 N3 G00000000000000000000000000000000\n2 :a\n7 :b\n"), 0o600)
	m := boxOpen(t, s, "INBOX")
	if m.UIDNext() != 8 || !slices.Equal(boxUIDs(m), []uint32{2, 7}) || m.UIDValidity() != 1700000000 {
		t.Fatalf("next %d uids %v", m.UIDNext(), boxUIDs(m))
	}
	os.WriteFile(filepath.Join(dir, "new", "c"), []byte("x\n"), 0o600)
	if ch := boxSync(t, m); !slices.Equal(ch.New, []uint32{8}) {
		t.Fatalf("changes %+v", ch)
	}
}

func TestFilenamesWithoutInfoAndUnknownLetters(t *testing.T) {
	s, _ := newBoxStore(t)
	dir := boxInboxDir(t, s)
	os.WriteFile(filepath.Join(dir, "cur", "plain"), []byte("x\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cur", "odd:2,SXqa"), []byte("x\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "cur", ".hidden"), []byte("x\n"), 0o600)
	os.WriteFile(filepath.Join(dir, keywordsName), []byte("0 Work\n"), 0o600)
	m := boxOpen(t, s, "INBOX")
	msgs := m.Messages()
	if len(msgs) != 2 {
		t.Fatalf("messages %+v", msgs)
	}
	var odd Message
	for _, msg := range msgs {
		if msg.Base == "odd" {
			odd = msg
		}
	}
	if odd.Flags != FlagSeen || !slices.Equal(odd.Keywords, []string{"Work"}) {
		t.Fatalf("odd %+v", odd)
	}
	// Changing flags keeps the letters this view cannot name.
	if err := m.StoreFlags([]uint32{odd.UID}, FlagsSet, FlagFlagged, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cur", "odd:2,FXq")); err != nil {
		t.Fatalf("renamed wrongly: %v", err)
	}
}

func TestOpenFollowsRenameByOtherSession(t *testing.T) {
	s, _ := newBoxStore(t)
	boxDeliver(t, s, "", "hello\n")
	m1 := boxOpen(t, s, "INBOX")
	m2 := boxOpen(t, s, "INBOX")
	if err := m2.StoreFlags([]uint32{1}, FlagsAdd, FlagSeen, nil); err != nil {
		t.Fatal(err)
	}
	if got := boxRead(t, m1, 1); got != "hello\r\n" {
		t.Fatalf("got %q", got)
	}
	if _, err := m1.Open(99); !errors.Is(err, ErrNoSuchMessage) {
		t.Fatalf("err %v", err)
	}
}

func TestClosedMailbox(t *testing.T) {
	s, _ := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	m.Close()
	if _, err := m.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := m.StoreFlags(nil, FlagsAdd, FlagSeen, nil); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := m.Append(strings.NewReader("x"), 0, nil, time.Time{}); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
