package maildir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with what write produces: a temporary file
// in the same directory, fsync, rename over path, fsync the directory. A
// reader sees the old content or the new one, never a mix, also after a crash.
// The file is given to o before it appears under its name.
func writeFileAtomic(path string, perm os.FileMode, o owner, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := o.fchown(f); err != nil {
		return err
	}
	if err := write(f); err != nil {
		return fmt.Errorf("maildir: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("maildir: fsync %s: %w", dir, err)
	}
	return nil
}
