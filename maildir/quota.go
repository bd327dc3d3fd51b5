package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Usage is kept in the Maildir++ quota file "maildirsize" in the user root:
//
//	<quota definition, e.g. "1000000S,1000C", or empty for none>
//	<bytes> <count>
//	<bytes> <count>      one line per change, deltas may be negative
//	...
//
// The usage is the sum of all lines after the first. Each change appends
// one line with a single O_APPEND write, so concurrent writers (this
// process, others, Courier or Dovecot's quota plugin) never need a lock and
// a reader never has to walk the mail. The file is an estimate by design:
// when it is missing, unreadable, implausible or has grown past
// maildirsizeMax, it is rebuilt from a walk of the Maildir, which also
// heals the drift that lost appends (a crash, a writer that ignores the
// file) cause.
const (
	maildirsizeName = "maildirsize"
	// maildirsizeMax is the Maildir++ limit above which the file is
	// recalculated rather than trusted.
	maildirsizeMax = 5120
)

// Usage returns the bytes (as stored, the S= sizes) and the number of
// messages in all of addr's folders. A user without a Maildir uses nothing.
func (s *Store) Usage(addr string) (bytes, count int64, err error) {
	root, err := s.userRoot(addr)
	if err != nil {
		return 0, 0, err
	}
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	path := filepath.Join(root, maildirsizeName)
	def, bytes, count, ok := readMaildirsize(path)
	if ok {
		return bytes, count, nil
	}
	bytes, count, err = walkUsage(root)
	if err != nil {
		return 0, 0, err
	}
	err = writeFileAtomic(path, 0o600, s.ownerOf(path), func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s\n%d %d\n", def, bytes, count)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return bytes, count, nil
}

// addUsage records a change of the usage: positive after a delivery, an
// append or a copy, negative after an expunge. bytes are stored sizes (S=),
// the unit Maildir++ counts. Without a maildirsize file nothing is written:
// a line appended to a missing file would be taken for the quota definition,
// and the next Usage walks the mail anyway.
func (s *Store) addUsage(addr string, bytes, count int64) error {
	if bytes == 0 && count == 0 {
		return nil
	}
	root, err := s.userRoot(addr)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(root, maildirsizeName), os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("maildir: quota: %w", err)
	}
	// One write call, so that concurrent appends never interleave inside a line.
	line := strconv.AppendInt(nil, bytes, 10)
	line = append(line, ' ')
	line = strconv.AppendInt(line, count, 10)
	line = append(line, '\n')
	_, werr := f.Write(line)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("maildir: quota: %w", err)
	}
	return nil
}

// readMaildirsize returns the quota definition line and the summed usage.
// ok is false when the file must be recalculated: missing, too big,
// malformed, or summing to a negative or overflowing usage (which only lost
// or damaged lines can produce). A last line without its newline is an
// append still in progress and is left out, not taken as corruption. The
// definition is returned even when ok is false, so that a rebuild keeps
// the limits someone configured.
func readMaildirsize(path string) (def string, size, n int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, 0, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maildirsizeMax+1))
	if err != nil {
		return "", 0, 0, false
	}
	first, rest, found := bytes.Cut(data, []byte{'\n'})
	if !found || !validQuotaDefinition(string(first)) {
		return "", 0, 0, false
	}
	def = string(first)
	if len(data) > maildirsizeMax {
		return def, 0, 0, false
	}
	if i := bytes.LastIndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i+1]
	} else {
		rest = nil
	}
	lines := 0
	for line := range bytes.Lines(rest) {
		fields := strings.Fields(string(line))
		if len(fields) != 2 {
			return def, 0, 0, false
		}
		b, err1 := strconv.ParseInt(fields[0], 10, 64)
		c, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			return def, 0, 0, false
		}
		var ok1, ok2 bool
		size, ok1 = addInt64(size, b)
		n, ok2 = addInt64(n, c)
		if !ok1 || !ok2 {
			return def, 0, 0, false
		}
		lines++
	}
	if lines == 0 || size < 0 || n < 0 {
		return def, 0, 0, false
	}
	return def, size, n, true
}

func addInt64(a, b int64) (int64, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}

// validQuotaDefinition accepts the Maildir++ definition line: empty (no
// limits) or comma-separated <number><letter> items such as "1000000S" and
// "1000C". Anything else means the file is not a maildirsize file.
func validQuotaDefinition(def string) bool {
	if def == "" {
		return true
	}
	for item := range strings.SplitSeq(def, ",") {
		if len(item) < 2 {
			return false
		}
		letter := item[len(item)-1]
		if letter < 'A' || letter > 'Z' {
			return false
		}
		if _, err := strconv.ParseUint(item[:len(item)-1], 10, 64); err != nil {
			return false
		}
	}
	return true
}

// walkUsage counts the messages in cur/ and new/ of INBOX and of every
// folder. Entries that vanish during the walk (a concurrent expunge or
// rename) are simply not counted.
func walkUsage(root string) (size, n int64, err error) {
	dirs := []string{root}
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0, 0, fmt.Errorf("maildir: quota: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() && len(name) > 1 && name[0] == '.' && name != trashDirName {
			dirs = append(dirs, filepath.Join(root, name))
		}
	}
	for _, dir := range dirs {
		sz, c, err := maildirUsage(dir)
		if err != nil {
			return 0, 0, err
		}
		size += sz
		n += c
	}
	return size, n, nil
}

// maildirUsage counts the messages in one Maildir's cur/ and new/.
func maildirUsage(dir string) (size, n int64, err error) {
	for _, sub := range [...]string{"cur", "new"} {
		files, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("maildir: quota: %w", err)
		}
		for _, f := range files {
			if f.Name()[0] == '.' || f.IsDir() {
				continue
			}
			sz, ok := sizeFromName(f.Name())
			if !ok {
				fi, err := f.Info()
				if err != nil {
					continue
				}
				sz = fi.Size()
			}
			size += sz
			n++
		}
	}
	return size, n, nil
}

// sizeFromName reads the S=<bytes> field of a message file name
// ("<unique>,S=66,W=71:2,S"), so that counting needs no stat per file.
func sizeFromName(name string) (int64, bool) {
	base, _, _ := strings.Cut(name, ":")
	_, fields, found := strings.Cut(base, ",")
	if !found {
		return 0, false
	}
	for field := range strings.SplitSeq(fields, ",") {
		if v, ok := strings.CutPrefix(field, "S="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, false
			}
			return n, true
		}
	}
	return 0, false
}
