package maildir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// storedMsg is a message written to a tmp/ directory and fsynced, not yet
// visible in new/ or cur/.
type storedMsg struct {
	tmpPath string
	base    string // unique name with ",S=<size>,W=<vsize>"
	size    int64  // bytes on disk (LF line ends)
	vsize   int64  // CRLF size
}

// storeMessage streams r into a new file in tmpDir with LF line ends,
// stopping with ErrTooBig (and removing the file) once the CRLF size passes
// maxSize (0: no limit). A non-zero date becomes the file's mtime, the
// INTERNALDATE. The file is fsynced before storeMessage returns.
func (s *Store) storeMessage(tmpDir string, r io.Reader, maxSize int64, date time.Time) (*storedMsg, error) {
	unique := s.live.names.next(s.now())
	path := filepath.Join(tmpDir, unique)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(path)
		}
	}()
	if err := s.ownerOf(tmpDir).fchown(f); err != nil {
		return nil, err
	}
	lw := newLFWriter(f, maxSize)
	if _, err := io.CopyBuffer(lw, r, make([]byte, 32<<10)); err != nil {
		if errors.Is(err, ErrTooBig) {
			return nil, ErrTooBig
		}
		return nil, fmt.Errorf("maildir: writing message: %w", err)
	}
	if err := lw.flush(); err != nil {
		if errors.Is(err, ErrTooBig) {
			return nil, ErrTooBig
		}
		return nil, fmt.Errorf("maildir: writing message: %w", err)
	}
	if !date.IsZero() {
		if err := os.Chtimes(path, date, date); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("maildir: fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	ok = true
	return &storedMsg{tmpPath: path, base: withSizes(unique, lw.size, lw.vsize), size: lw.size, vsize: lw.vsize}, nil
}

// copyToTmp copies the file src into tmpDir under a fresh name, keeping its
// mtime, and fsyncs it: the fallback when a hard link is not possible.
func (s *Store) copyToTmp(src, tmpDir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", err
	}
	path := filepath.Join(tmpDir, s.live.names.next(s.now()))
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("maildir: %w", err)
	}
	err = s.ownerOf(tmpDir).fchown(out)
	if err == nil {
		_, err = io.Copy(out, in)
	}
	if err == nil {
		err = os.Chtimes(path, st.ModTime(), st.ModTime())
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("maildir: copying %s: %w", src, err)
	}
	return path, nil
}
