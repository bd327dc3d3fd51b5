package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func boxFlagsOf(t *testing.T, m *Mailbox, uid uint32) (Flag, []string) {
	t.Helper()
	i, ok := m.Index(uid)
	if !ok {
		t.Fatalf("UID %d not in view", uid)
	}
	msg := m.At(i)
	return msg.Flags, msg.Keywords
}

func TestStoreFlagsOps(t *testing.T) {
	s, _ := newBoxStore(t)
	boxDeliver(t, s, "", "x\n")
	m := boxOpen(t, s, "INBOX")
	dir := boxInboxDir(t, s)
	base := m.Messages()[0].Base
	steps := []struct {
		op    FlagOp
		flags Flag
		kw    []string
		want  string
	}{
		{FlagsAdd, FlagSeen | FlagFlagged, []string{"$Important"}, ":2,FSa"},
		{FlagsAdd, FlagDraft | FlagAnswered | FlagDeleted | FlagForwarded, []string{"Work"}, ":2,DFPRSTab"},
		{FlagsRemove, FlagDraft | FlagDeleted, []string{"$important"}, ":2,FPRSb"},
		{FlagsSet, FlagSeen, nil, ":2,S"},
		{FlagsRemove, FlagSeen, []string{"NeverSeen"}, ":2,"},
	}
	for _, st := range steps {
		if err := m.StoreFlags([]uint32{1, 42}, st.op, st.flags, st.kw); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "cur", base+st.want)); err != nil {
			t.Fatalf("after %v %v: %v", st.op, st.flags, err)
		}
	}
	// Removing an unknown keyword did not define it.
	if kws := m.Keywords(); !slices.Equal(kws, []string{"$Important", "Work"}) {
		t.Fatalf("keywords %v", kws)
	}
	data, _ := os.ReadFile(filepath.Join(dir, keywordsName))
	if string(data) != "0 $Important\n1 Work\n" {
		t.Fatalf("dovecot-keywords %q", data)
	}
	// The UID stayed and the own change is not reported again.
	if ch := boxSync(t, m); !ch.Empty() {
		t.Fatalf("changes %+v", ch)
	}
	if !slices.Equal(boxUIDs(m), []uint32{1}) {
		t.Fatal("UID changed")
	}
	// Another session sees the change as a flag change.
	m2 := boxOpen(t, s, "INBOX")
	m.StoreFlags([]uint32{1}, FlagsAdd, FlagAnswered, []string{"Work"})
	if ch := boxSync(t, m2); !slices.Equal(ch.FlagsChanged, []uint32{1}) {
		t.Fatalf("changes %+v", ch)
	}
	if f, kw := boxFlagsOf(t, m2, 1); f != FlagAnswered || !slices.Equal(kw, []string{"Work"}) {
		t.Fatalf("flags %v %v", f, kw)
	}
}

func TestStoreFlagsBadKeywords(t *testing.T) {
	s, _ := newBoxStore(t)
	boxDeliver(t, s, "", "x\n")
	m := boxOpen(t, s, "INBOX")
	for _, bad := range []string{"", "a b", `\Seen`, "x(", "é", "a]", strings.Repeat("k", 300), "tab\t"} {
		if err := m.StoreFlags([]uint32{1}, FlagsAdd, 0, []string{bad}); !errors.Is(err, ErrBadKeyword) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	var many []string
	for i := 0; i < 27; i++ {
		many = append(many, "k"+string(rune('A'+i%26))+strings.Repeat("x", i/26))
	}
	if err := m.StoreFlags([]uint32{1}, FlagsAdd, 0, many); !errors.Is(err, ErrTooManyKeyword) {
		t.Fatalf("27 keywords: %v", err)
	}
	if err := m.StoreFlags([]uint32{1}, 7, 0, nil); err == nil {
		t.Fatal("bad op accepted")
	}
}

// A session whose view is stale applies its change on top of the flags
// another session set meanwhile: nothing is lost.
func TestStoreFlagsStaleViewKeepsOtherChanges(t *testing.T) {
	s, _ := newBoxStore(t)
	boxDeliver(t, s, "", "x\n")
	a := boxOpen(t, s, "INBOX")
	b := boxOpen(t, s, "INBOX")
	if err := a.StoreFlags([]uint32{1}, FlagsAdd, FlagSeen, []string{"A"}); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreFlags([]uint32{1}, FlagsAdd, FlagFlagged, []string{"B"}); err != nil {
		t.Fatal(err)
	}
	// An external program adds \Answered by renaming.
	dir := boxInboxDir(t, s)
	names, _ := filepath.Glob(filepath.Join(dir, "cur", "*"))
	if len(names) != 1 {
		t.Fatal(names)
	}
	os.Rename(names[0], strings.Replace(names[0], ":2,F", ":2,FR", 1))
	if err := a.StoreFlags([]uint32{1}, FlagsAdd, FlagDraft, nil); err != nil {
		t.Fatal(err)
	}
	c := boxOpen(t, s, "INBOX")
	f, kw := boxFlagsOf(t, c, 1)
	if f != FlagSeen|FlagFlagged|FlagAnswered|FlagDraft || !slices.Equal(kw, []string{"A", "B"}) {
		t.Fatalf("flags %v %v", f, kw)
	}
}

func TestExpunge(t *testing.T) {
	s, _ := newBoxStore(t)
	for i := 0; i < 4; i++ {
		boxDeliver(t, s, "", "x\n")
	}
	m := boxOpen(t, s, "INBOX")
	other := boxOpen(t, s, "INBOX")
	m.StoreFlags([]uint32{2, 4}, FlagsAdd, FlagDeleted, nil)
	got, err := m.Expunge(nil)
	if err != nil || !slices.Equal(got, []uint32{2, 4}) {
		t.Fatalf("expunged %v %v", got, err)
	}
	if !slices.Equal(boxUIDs(m), []uint32{1, 3}) {
		t.Fatalf("view %v", boxUIDs(m))
	}
	if ch := boxSync(t, other); !slices.Equal(ch.Expunged, []uint32{2, 4}) {
		t.Fatalf("other session: %+v", ch)
	}
	// Explicit UIDs, one unknown; a file another session renamed meanwhile.
	other.StoreFlags([]uint32{3}, FlagsAdd, FlagSeen, nil)
	got, err = m.Expunge([]uint32{3, 99})
	if err != nil || !slices.Equal(got, []uint32{3}) {
		t.Fatalf("expunged %v %v", got, err)
	}
	files, _ := filepath.Glob(filepath.Join(boxInboxDir(t, s), "cur", "*"))
	if len(files) != 1 {
		t.Fatalf("files left %v", files)
	}
}

func TestAppend(t *testing.T) {
	s, _ := newBoxStore(t)
	m := boxOpen(t, s, "INBOX")
	other := boxOpen(t, s, "INBOX")
	date := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	uid, err := m.Append(strings.NewReader("Subject: a\r\n\r\nbody\r\n"), FlagSeen, []string{"Work"}, date)
	if err != nil || uid != 1 {
		t.Fatalf("uid %d err %v", uid, err)
	}
	uid2, err := m.Append(strings.NewReader("b\n"), 0, nil, time.Time{})
	if err != nil || uid2 != 2 {
		t.Fatalf("uid %d err %v", uid2, err)
	}
	ch := boxSync(t, m)
	if !slices.Equal(ch.New, []uint32{1, 2}) {
		t.Fatalf("changes %+v", ch)
	}
	msg := m.Messages()[0]
	if !msg.Date.Equal(date) || msg.Flags != FlagSeen || !slices.Equal(msg.Keywords, []string{"Work"}) || msg.Size != 20 {
		t.Fatalf("message %+v", msg)
	}
	if !strings.HasSuffix(msg.Base, ",S=17,W=20") {
		t.Fatalf("base %s", msg.Base)
	}
	if _, err := os.Stat(filepath.Join(boxInboxDir(t, s), "cur", msg.Base+":2,Sa")); err != nil {
		t.Fatal(err)
	}
	if got := boxRead(t, m, 1); got != "Subject: a\r\n\r\nbody\r\n" {
		t.Fatalf("content %q", got)
	}
	if ch := boxSync(t, other); !slices.Equal(ch.New, []uint32{1, 2}) {
		t.Fatalf("other: %+v", ch)
	}
	if _, err := m.Append(strings.NewReader("x"), 0, []string{"bad kw"}, time.Time{}); !errors.Is(err, ErrBadKeyword) {
		t.Fatal(err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(boxInboxDir(t, s), "tmp")); len(tmp) != 0 {
		t.Fatalf("tmp/ not empty: %v", tmp)
	}
}

func TestCopyAndMove(t *testing.T) {
	s, _ := newBoxStore(t)
	destDir := boxMakeFolder(t, s, "Archive")
	for i := 0; i < 3; i++ {
		boxDeliver(t, s, "", "m"+string(rune('0'+i))+"\n")
	}
	m := boxOpen(t, s, "INBOX")
	m.StoreFlags([]uint32{2}, FlagsAdd, FlagFlagged, []string{"Blue"})
	dest := boxOpen(t, s, "Archive")
	// The destination already knows another keyword: letters differ.
	dest.StoreFlags(nil, FlagsAdd, 0, []string{"Green"})

	src, dst, v, err := m.CopyTo([]uint32{3, 2, 99}, "Archive")
	if err != nil || !slices.Equal(src, []uint32{2, 3}) || !slices.Equal(dst, []uint32{1, 2}) || v != dest.UIDValidity() {
		t.Fatalf("copy %v %v %d %v", src, dst, v, err)
	}
	ch := boxSync(t, dest)
	if !slices.Equal(ch.New, []uint32{1, 2}) {
		t.Fatalf("dest changes %+v", ch)
	}
	if f, kw := boxFlagsOf(t, dest, 1); f != FlagFlagged || !slices.Equal(kw, []string{"Blue"}) {
		t.Fatalf("copied flags %v %v", f, kw)
	}
	if got := boxRead(t, dest, 2); got != "m2\r\n" {
		t.Fatalf("copied content %q", got)
	}
	i0, _ := m.Index(2)
	i1, _ := dest.Index(1)
	if !m.At(i0).Date.Equal(dest.At(i1).Date) {
		t.Fatal("internal date not kept")
	}
	if data, _ := os.ReadFile(filepath.Join(destDir, keywordsName)); string(data) != "0 Green\n1 Blue\n" {
		t.Fatalf("dest keywords %q", data)
	}
	// Move: UIDs continue in the destination, the source loses them.
	src, dst, _, err = m.MoveTo([]uint32{1, 2}, "Archive")
	if err != nil || !slices.Equal(src, []uint32{1, 2}) || !slices.Equal(dst, []uint32{3, 4}) {
		t.Fatalf("move %v %v %v", src, dst, err)
	}
	if !slices.Equal(boxUIDs(m), []uint32{3}) {
		t.Fatalf("source view %v", boxUIDs(m))
	}
	if ch := boxSync(t, m); !ch.Empty() {
		t.Fatalf("source changes %+v", ch)
	}
	other := boxOpen(t, s, "INBOX")
	if !slices.Equal(boxUIDs(other), []uint32{3}) {
		t.Fatalf("other source view %v", boxUIDs(other))
	}
	boxSync(t, dest)
	if !slices.Equal(boxUIDs(dest), []uint32{1, 2, 3, 4}) {
		t.Fatalf("dest view %v", boxUIDs(dest))
	}
	if got := boxRead(t, dest, 3); got != "m0\r\n" {
		t.Fatalf("moved content %q", got)
	}
	// Copy into the same folder works and into a missing one does not.
	if _, dst, _, err := m.CopyTo([]uint32{3}, "INBOX"); err != nil || !slices.Equal(dst, []uint32{4}) {
		t.Fatalf("self copy %v %v", dst, err)
	}
	if _, _, _, err := m.CopyTo([]uint32{3}, "Nope"); !errors.Is(err, ErrNoSuchFolder) {
		t.Fatal(err)
	}
	if _, _, _, err := m.CopyTo([]uint32{3}, "../x"); !errors.Is(err, ErrBadFolderName) {
		t.Fatal(err)
	}
}
