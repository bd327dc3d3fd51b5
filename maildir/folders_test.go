package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const alice = "alice@example.org"

func mustCreate(t *testing.T, s *Store, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := s.CreateFolder(alice, n); err != nil {
			t.Fatalf("CreateFolder(%q): %v", n, err)
		}
	}
}

// folderSummary renders a folder list compactly for comparisons:
// name, then "+" for children, "-" for \Noselect, "*" for subscribed,
// "=role" for a special use.
func folderSummary(t *testing.T, s *Store) []string {
	t.Helper()
	fs, err := s.Folders(alice)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		x := f.Name
		if f.HasChildren {
			x += "+"
		}
		if f.NoSelect {
			x += "-"
		}
		if f.Subscribed {
			x += "*"
		}
		if f.Use != UseNone {
			x += "=" + string(f.Use)
		}
		out = append(out, x)
	}
	return out
}

func checkFolders(t *testing.T, s *Store, want ...string) {
	t.Helper()
	if got := folderSummary(t, s); !slices.Equal(got, want) {
		t.Errorf("Folders = %q\nwant      %q", got, want)
	}
}

func userDir(t *testing.T, s *Store, parts ...string) string {
	t.Helper()
	root, err := s.userRoot(alice)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, parts...)...)
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestFoldersNewUser(t *testing.T) {
	s := newTestStore(t)
	checkFolders(t, s, "INBOX")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if fi, err := os.Stat(userDir(t, s, sub)); err != nil || !fi.IsDir() {
			t.Errorf("INBOX %s/ not created: %v", sub, err)
		}
	}
}

func TestCreateFolderLayout(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Family/Photos", "Über", "Sent Items")
	// Dovecot's layout: only the leaf directory, complete.
	for _, dn := range []string{".Family.Photos", ".&ANw-ber", ".Sent Items"} {
		if got := dirEntries(t, userDir(t, s, dn)); !slices.Equal(got, []string{"cur", "maildirfolder", "new", "tmp"}) {
			t.Errorf("%s holds %q", dn, got)
		}
	}
	if _, err := os.Stat(userDir(t, s, ".Family")); !os.IsNotExist(err) {
		t.Errorf(".Family created for Family/Photos: %v", err)
	}
	// Nothing is left in tmp/.
	if got := dirEntries(t, userDir(t, s, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ holds %q", got)
	}
	checkFolders(t, s, "INBOX", "Family+-", "Family/Photos", "Sent Items", "Über")
}

func TestCreateFolderErrors(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "A")
	for _, n := range []string{"A", "INBOX", "inbox"} {
		if err := s.CreateFolder(alice, n); !errors.Is(err, ErrFolderExists) {
			t.Errorf("CreateFolder(%q) = %v; want ErrFolderExists", n, err)
		}
	}
	for _, n := range []string{"../x", "/etc", ".", "", "a/../b", "a\x00b", `a\b`, "a.b"} {
		if err := s.CreateFolder(alice, n); !errors.Is(err, ErrBadFolderName) {
			t.Errorf("CreateFolder(%q) = %v; want ErrBadFolderName", n, err)
		}
	}
	if err := s.CreateFolder("../evil@example.org", "A"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("bad address: %v", err)
	}
	// Nothing was created anywhere but the user's root.
	var found []string
	filepath.WalkDir(s.root, func(p string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() && filepath.Base(p) != "cur" && filepath.Base(p) != "new" && filepath.Base(p) != "tmp" {
			rel, _ := filepath.Rel(s.root, p)
			found = append(found, rel)
		}
		return nil
	})
	if want := []string{".", "example.org", "example.org/alice", "example.org/alice/.A"}; !slices.Equal(found, want) {
		t.Errorf("directories = %q; want %q", found, want)
	}
}

// Folders made by Dovecot or by hand (no maildirfolder, implied parents)
// are listed; entries that are not folders are not.
func TestFoldersForeignLayout(t *testing.T) {
	s := newTestStore(t)
	root := userDir(t, s)
	for _, d := range []string{".a.b.c", ".x", ".&ANw-ber", ".DOVECOT-TRASH", ".bad&", ".&AGE-", ".a..b", "cur2"} {
		if err := ensureMaildir(filepath.Join(root, d), owner{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, ".x"), filepath.Join(root, ".linked")); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "a+-", "a/b+-", "a/b/c", "linked", "x", "Über")
}

func TestFoldersHasChildrenOrdering(t *testing.T) {
	s := newTestStore(t)
	// "a b" and "a!" sort between "a" and "a/x".
	mustCreate(t, s, "a", "a b", "a!", "a/x", "a0", "b")
	checkFolders(t, s, "INBOX", "a+", "a b", "a!", "a/x", "a0", "b")
}

func TestFoldersSpecialUse(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Sent", "Trash", "sent", "Family/Sent")
	checkFolders(t, s, "INBOX", "Family+-", "Family/Sent", "Sent=sent", "Trash=trash", "sent")
}

func TestDeleteFolder(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Family", "Family/Photos")
	putMessage(t, userDir(t, s, ".Family"), "cur", "1.M1P1.vm,S=5:2,S", 5)
	if err := s.Subscribe(alice, "Family"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFolder(alice, "Family"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(userDir(t, s, ".Family")); !os.IsNotExist(err) {
		t.Errorf(".Family still there: %v", err)
	}
	if got := dirEntries(t, userDir(t, s, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ holds %q", got)
	}
	// The child stays; the subscription stays (RFC 3501 §6.3.9).
	checkFolders(t, s, "INBOX", "Family+-*", "Family/Photos")

	if err := s.DeleteFolder(alice, "Family"); !errors.Is(err, ErrNoSuchFolder) {
		t.Errorf("second delete: %v; want ErrNoSuchFolder", err)
	}
	for _, n := range []string{"INBOX", "Inbox"} {
		if err := s.DeleteFolder(alice, n); !errors.Is(err, ErrInbox) {
			t.Errorf("DeleteFolder(%q) = %v; want ErrInbox", n, err)
		}
	}
	if err := s.DeleteFolder(alice, "../alice"); !errors.Is(err, ErrBadFolderName) {
		t.Errorf("DeleteFolder(../alice) = %v; want ErrBadFolderName", err)
	}
	if _, err := os.Stat(userDir(t, s, "cur")); err != nil {
		t.Errorf("INBOX damaged: %v", err)
	}
}

// A crash in the middle of creating or deleting a folder leaves a directory
// in tmp/; it is invisible, and swept once old.
func TestTmpLeftoversSwept(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "A")
	tmp := userDir(t, s, "tmp")
	old := filepath.Join(tmp, tmpLeftoverPrefix+"old")
	young := filepath.Join(tmp, tmpLeftoverPrefix+"young")
	for _, d := range []string{old, young} {
		if err := ensureMaildir(d, owner{}); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * tmpLeftoverAge)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "A")
	mustCreate(t, s, "B")
	if got := dirEntries(t, tmp); !slices.Equal(got, []string{tmpLeftoverPrefix + "young"}) {
		t.Errorf("tmp/ holds %q", got)
	}
}

func TestRenameFolderMovesChildren(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "Family", "Family/Photos", "Family/Photos/2024", "Familyish", "Other")
	putMessage(t, userDir(t, s, ".Family.Photos"), "cur", "1.M1P1.vm,S=5:2,S", 5)
	for _, n := range []string{"Family", "Family/Photos", "Familyish"} {
		if err := s.Subscribe(alice, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RenameFolder(alice, "Family", "Familie"); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "Familie+*", "Familie/Photos+*", "Familie/Photos/2024", "Familyish*", "Other")
	if _, err := os.Stat(userDir(t, s, ".Familie.Photos", "cur", "1.M1P1.vm,S=5:2,S")); err != nil {
		t.Errorf("message not moved with its folder: %v", err)
	}
	if got := readFile(t, userDir(t, s, subscriptionsName)); got != "V\t2\n\nFamilie\nFamilie\tPhotos\nFamilyish\n" {
		t.Errorf("subscriptions = %q", got)
	}
}

// Renaming an implied parent renames the folders below it (Dovecot does).
func TestRenameImpliedParent(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "a/b/c")
	if err := s.RenameFolder(alice, "a", "z"); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "z+-", "z/b+-", "z/b/c")
}

func TestRenameFolderErrors(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "A", "A/B", "C", "X/B")
	tests := []struct {
		from, to string
		want     error
	}{
		{"A", "C", ErrFolderExists},
		{"A", "A", ErrFolderExists},
		{"A", "INBOX", ErrFolderExists},
		{"A", "inbox", ErrFolderExists},
		{"X", "A", ErrFolderExists},      // X/B would land on A/B
		{"A", "A/B/C", ErrBadFolderName}, // below itself
		{"Nope", "D", ErrNoSuchFolder},
		{"A", "../D", ErrBadFolderName},
		{"../A", "D", ErrBadFolderName},
		{"A", "D.E", ErrBadFolderName},
	}
	for _, tt := range tests {
		if err := s.RenameFolder(alice, tt.from, tt.to); !errors.Is(err, tt.want) {
			t.Errorf("RenameFolder(%q, %q) = %v; want %v", tt.from, tt.to, err, tt.want)
		}
	}
	// Nothing moved.
	checkFolders(t, s, "INBOX", "A+", "A/B", "C", "X+-", "X/B")
}

// A rename that would make a child's directory name too long is refused
// before anything moves.
func TestRenameFolderTooLongChild(t *testing.T) {
	s := newTestStore(t)
	long := strings.Repeat("x", 130) // ".A.<long>" fits, ".<long>y.<long>" does not
	mustCreate(t, s, "A", "A/"+long)
	if err := s.RenameFolder(alice, "A", long+"y"); !errors.Is(err, ErrBadFolderName) {
		t.Errorf("RenameFolder = %v; want ErrBadFolderName", err)
	}
	checkFolders(t, s, "INBOX", "A+", "A/"+long)
}

func TestRenameInbox(t *testing.T) {
	s := newTestStore(t)
	root := userDir(t, s)
	mustCreate(t, s, "INBOX/Child")
	putMessage(t, root, "new", "1.M1P1.vm,S=5", 5)
	putMessage(t, root, "cur", "2.M1P1.vm,S=6:2,Sa", 6)
	if err := os.WriteFile(filepath.Join(root, "dovecot-keywords"), []byte("0 $Important\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameFolder(alice, "inbox", "Old Mail"); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX+", "INBOX/Child", "Old Mail")
	for _, sub := range []string{"new", "cur"} {
		if got := dirEntries(t, filepath.Join(root, sub)); len(got) != 0 {
			t.Errorf("INBOX %s/ still holds %q", sub, got)
		}
	}
	dst := userDir(t, s, ".Old Mail")
	if got := dirEntries(t, filepath.Join(dst, "new")); !slices.Equal(got, []string{"1.M1P1.vm,S=5"}) {
		t.Errorf("new/ = %q", got)
	}
	if got := dirEntries(t, filepath.Join(dst, "cur")); !slices.Equal(got, []string{"2.M1P1.vm,S=6:2,Sa"}) {
		t.Errorf("cur/ = %q", got)
	}
	// Letter "a" must still mean $Important in the new folder.
	if got := readFile(t, filepath.Join(dst, "dovecot-keywords")); got != "0 $Important\n" {
		t.Errorf("dovecot-keywords = %q", got)
	}
	if err := s.RenameFolder(alice, "INBOX", "Old Mail"); !errors.Is(err, ErrFolderExists) {
		t.Errorf("second INBOX rename onto the same name: %v", err)
	}
}

func TestSpecialFolder(t *testing.T) {
	s := newTestStore(t)
	for _, tt := range []struct {
		use  SpecialUse
		name string
	}{{UseSent, "Sent"}, {UseDrafts, "Drafts"}, {UseTrash, "Trash"}, {UseJunk, "Junk"}, {UseArchive, "Archive"}} {
		got, err := s.SpecialFolder(alice, tt.use)
		if err != nil || got != tt.name {
			t.Errorf("SpecialFolder(%q) = %q, %v; want %q", tt.use, got, err, tt.name)
		}
	}
	checkFolders(t, s, "INBOX", "Archive*=archive", "Drafts*=drafts", "Junk*=junk", "Sent*=sent", "Trash*=trash")

	// An existing folder is returned as it is: not re-subscribed.
	if err := s.Unsubscribe(alice, "Sent"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SpecialFolder(alice, UseSent); err != nil || got != "Sent" {
		t.Errorf("SpecialFolder(sent) again = %q, %v", got, err)
	}
	if subs, _ := s.Subscriptions(alice); slices.Contains(subs, "Sent") {
		t.Errorf("Sent re-subscribed: %q", subs)
	}
	for _, use := range []SpecialUse{UseNone, "all", "flagged"} {
		if got, err := s.SpecialFolder(alice, use); err == nil {
			t.Errorf("SpecialFolder(%q) = %q; want an error", use, got)
		}
	}
	if _, err := s.SpecialFolder("bad", UseSent); !errors.Is(err, ErrBadAddress) {
		t.Errorf("bad address: %v", err)
	}
}

func TestSpecialUseNamesAgree(t *testing.T) {
	for _, use := range []SpecialUse{UseSent, UseDrafts, UseTrash, UseJunk, UseArchive} {
		name, ok := specialUseName(use)
		if !ok || specialUseOf(name) != use {
			t.Errorf("%q -> %q, %v -> %q", use, name, ok, specialUseOf(name))
		}
	}
	if _, ok := specialUseName(UseNone); ok {
		t.Error("UseNone has a folder name")
	}
}

func TestDeleteFolderUpdatesUsage(t *testing.T) {
	s := newTestStore(t)
	mustCreate(t, s, "A")
	putMessage(t, userDir(t, s), "new", "1.M1P1.vm,S=100", 1)
	putMessage(t, userDir(t, s, ".A"), "cur", "2.M1P1.vm,S=30:2,S", 1)
	putMessage(t, userDir(t, s, ".A"), "new", "3.M1P1.vm,S=7", 1)
	checkUsage(t, s, alice, 137, 3)
	if err := s.DeleteFolder(alice, "A"); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, s, alice, 100, 1)
	if got := readFile(t, userDir(t, s, maildirsizeName)); got != "\n137 3\n-37 -2\n" {
		t.Errorf("maildirsize = %q (recalculated instead of updated?)", got)
	}
}

// Deleting a folder that is a symbolic link removes the link, never the
// mail it points to.
func TestDeleteLinkedFolder(t *testing.T) {
	s := newTestStore(t)
	shared := filepath.Join(t.TempDir(), "shared")
	putMessage(t, shared, "cur", "1.M1P1.vm,S=5:2,", 5)
	mustCreate(t, s, "A")
	if err := os.Symlink(shared, userDir(t, s, ".Shared")); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "A", "Shared")
	if err := s.DeleteFolder(alice, "Shared"); err != nil {
		t.Fatal(err)
	}
	checkFolders(t, s, "INBOX", "A")
	if got := dirEntries(t, filepath.Join(shared, "cur")); len(got) != 1 {
		t.Errorf("target of the link damaged: cur/ = %q", got)
	}
}

// Of many concurrent creations of one folder exactly one succeeds; the
// others learn that it exists, and the folder is complete.
func TestCreateFolderConcurrent(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.ensureUserRoot(alice); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exists := 0, 0
	for range 16 {
		wg.Go(func() {
			err := s.CreateFolder(alice, "Race")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrFolderExists):
				exists++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || exists != 15 {
		t.Errorf("%d created, %d told it exists; want 1 and 15", ok, exists)
	}
	if got := dirEntries(t, userDir(t, s, ".Race")); !slices.Equal(got, []string{"cur", "maildirfolder", "new", "tmp"}) {
		t.Errorf(".Race holds %q", got)
	}
	if got := dirEntries(t, userDir(t, s, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ holds %q", got)
	}
}
