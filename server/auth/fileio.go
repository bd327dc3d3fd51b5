package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const (
	passwdName = "passwd"
	aliasName  = "aliases"
	lockName   = ".auth.lock"
	fileMode   = 0o600
	dirMode    = 0o700
)

// lockDataDir takes the exclusive flock that serializes every
// read-modify-write of the files, across goroutines and processes (flock
// locks belong to the open file, so two opens in one process exclude each
// other too). It creates dataDir if needed.
func lockDataDir(dataDir string) (unlock func(), err error) {
	if err := os.MkdirAll(dataDir, dirMode); err != nil {
		return nil, fmt.Errorf("auth: creating data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dataDir, lockName), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("auth: opening lock file: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("auth: locking %s: %w", f.Name(), err)
	}
	// Closing the descriptor releases the lock.
	return func() { f.Close() }, nil
}

// readOptional reads a file that may not exist yet: missing means empty.
func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: reading %s: %w", path, err)
	}
	return data, nil
}

// writeAtomic replaces path with data so that a reader sees either the old
// or the new file, and the new one survives a crash once this returns: temp
// file in the same directory, fsync, rename, fsync the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("auth: creating temp file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("auth: chmod %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("auth: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("auth: fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: renaming over %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("auth: opening %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("auth: fsync %s: %w", dir, err)
	}
	return nil
}

// fileStamp identifies one version of a file well enough to notice a change
// by another process: a rename gives a new inode, an in-place edit changes
// size or times.
type fileStamp struct {
	exists    bool
	ino, size int64
	mtime     unix.Timespec
	ctime     unix.Timespec
}

func statStamp(path string) (fileStamp, error) {
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	if errors.Is(err, unix.ENOENT) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, fmt.Errorf("auth: stat %s: %w", path, err)
	}
	return fileStamp{exists: true, ino: int64(st.Ino), size: st.Size, mtime: st.Mtim, ctime: st.Ctim}, nil
}
