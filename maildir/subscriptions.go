package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The subscriptions file in the user root, in Dovecot 2.3's format:
//
//	V<TAB>2<LF>
//	<LF>
//	Family<TAB>Photos<LF>     one folder per line, levels separated by TAB,
//	&ANw-ber<LF>              each level in modified UTF-7
//
// The older format (no header, one name per line with "/" or "." between
// levels, as Dovecot 1.x and Courier wrote it) is read too and replaced by
// version 2 at the next change. Lines this package cannot map to a folder
// name (another namespace, escapes, invalid UTF-7) are kept as they are.
//
// Changes follow Dovecot's locking, so that both can share the file: the
// new content is written to "subscriptions.lock", created with O_EXCL (the
// lock), and renamed over "subscriptions".
const (
	subscriptionsName       = "subscriptions"
	subscriptionsLockName   = "subscriptions.lock"
	subscriptionsHeader     = "V\t2\n\n"
	subscriptionsMaxSize    = 1 << 20
	subscriptionsStaleAfter = 30 * time.Second // Dovecot's SUBSCRIPTION_FILE_CHANGE_TIMEOUT
)

// subscription is one line of the file: a folder name, or, when the line
// does not name a folder this package can reach, the raw line alone.
type subscription struct {
	name string
	raw  string
}

func readSubscriptions(root string) ([]subscription, error) {
	f, err := os.Open(filepath.Join(root, subscriptionsName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: subscriptions: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, subscriptionsMaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("maildir: subscriptions: %w", err)
	}
	if len(data) > subscriptionsMaxSize {
		return nil, fmt.Errorf("maildir: subscriptions file larger than %d bytes", subscriptionsMaxSize)
	}
	return parseSubscriptions(data), nil
}

// parseSubscriptions never fails: a line it cannot understand is kept raw,
// and duplicates are dropped.
func parseSubscriptions(data []byte) []subscription {
	v2 := bytes.HasPrefix(data, []byte(subscriptionsHeader))
	if v2 {
		data = data[len(subscriptionsHeader):]
	}
	var subs []subscription
	seen := make(map[string]bool)
	for line := range bytes.Lines(data) {
		l := strings.TrimSuffix(string(line), "\n")
		if l == "" {
			continue
		}
		var levels []string
		if v2 {
			levels = strings.Split(l, "\t")
		} else {
			levels = strings.FieldsFunc(l, func(r rune) bool { return r == '/' || r == '.' })
		}
		sub := subscription{raw: l}
		if name, ok := subscriptionName(levels); ok {
			sub = subscription{name: name}
		}
		key := sub.name + "\x00" + sub.raw
		if !seen[key] {
			seen[key] = true
			subs = append(subs, sub)
		}
	}
	return subs
}

func subscriptionName(levels []string) (string, bool) {
	if len(levels) == 0 {
		return "", false
	}
	dec := make([]string, len(levels))
	for i, l := range levels {
		d, err := decodeFolderName(l)
		if err != nil || d == "" || strings.Contains(d, "/") {
			return "", false
		}
		dec[i] = d
	}
	name, err := canonicalFolderName(strings.Join(dec, "/"))
	if err != nil {
		return "", false
	}
	if _, err := folderDirName(name); err != nil && name != inboxName {
		return "", false
	}
	return name, true
}

func formatSubscriptions(subs []subscription) []byte {
	var b bytes.Buffer
	b.WriteString(subscriptionsHeader)
	for _, sub := range subs {
		if sub.name == "" {
			b.WriteString(sub.raw)
		} else {
			for i, level := range strings.Split(sub.name, "/") {
				if i > 0 {
					b.WriteByte('\t')
				}
				enc, _ := encodeFolderName(level) // valid UTF-8: checked by canonicalFolderName
				b.WriteString(enc)
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Subscriptions returns addr's subscribed folder names in file order,
// including subscriptions to folders that no longer exist (IMAP lists
// those as \NonExistent).
func (s *Store) Subscriptions(addr string) ([]string, error) {
	root, err := s.userRoot(addr)
	if err != nil {
		return nil, err
	}
	subs, err := readSubscriptions(root)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sub := range subs {
		if sub.name != "" {
			names = append(names, sub.name)
		}
	}
	return names, nil
}

// Subscribe adds a folder to addr's subscriptions. Like Dovecot 2.3 it
// refuses a folder that does not exist.
func (s *Store) Subscribe(addr, name string) error {
	dir, err := s.folderDir(addr, name)
	if err != nil {
		return err
	}
	root, err := s.ensureUserRoot(addr)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: %s", ErrNoSuchFolder, name)
	}
	canon, _ := canonicalFolderName(name)
	return s.updateSubscriptions(root, func(subs []subscription) ([]subscription, bool) {
		for _, sub := range subs {
			if sub.name == canon {
				return subs, false
			}
		}
		return append(subs, subscription{name: canon}), true
	})
}

// Unsubscribe removes a folder from addr's subscriptions; the folder need
// not exist (a subscription may outlive its folder). Unsubscribing a folder
// that is not subscribed is not an error.
func (s *Store) Unsubscribe(addr, name string) error {
	if _, err := s.folderDir(addr, name); err != nil {
		return err
	}
	root, err := s.userRoot(addr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, subscriptionsName)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	canon, _ := canonicalFolderName(name)
	return s.updateSubscriptions(root, func(subs []subscription) ([]subscription, bool) {
		out := subs[:0]
		for _, sub := range subs {
			if sub.name != canon {
				out = append(out, sub)
			}
		}
		return out, len(out) != len(subs)
	})
}

// renameSubscriptions moves the subscriptions of folder from and of the
// folders below it to their new names.
func (s *Store) renameSubscriptions(root, from, to string) error {
	if _, err := os.Stat(filepath.Join(root, subscriptionsName)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.updateSubscriptions(root, func(subs []subscription) ([]subscription, bool) {
		changed := false
		have := make(map[string]bool, len(subs))
		for _, sub := range subs {
			have[sub.name] = true
		}
		out := subs[:0]
		for _, sub := range subs {
			if sub.name == from || strings.HasPrefix(sub.name, from+"/") {
				changed = true
				sub.name = to + sub.name[len(from):]
				if have[sub.name] {
					continue // already subscribed under the new name
				}
				have[sub.name] = true
			}
			out = append(out, sub)
		}
		return out, changed
	})
}

// updateSubscriptions applies change to the subscription list under the
// lock and writes the result if change reports a change.
func (s *Store) updateSubscriptions(root string, change func([]subscription) ([]subscription, bool)) error {
	path := filepath.Join(root, subscriptionsName)
	lockPath := filepath.Join(root, subscriptionsLockName)
	lock, err := s.lockSubscriptions(lockPath)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			lock.Close()
			os.Remove(lockPath)
		}
	}()
	subs, err := readSubscriptions(root)
	if err != nil {
		return err
	}
	subs, changed := change(subs)
	if !changed {
		return nil
	}
	if _, err := lock.Write(formatSubscriptions(subs)); err != nil {
		return fmt.Errorf("maildir: subscriptions: %w", err)
	}
	if err := lock.Sync(); err != nil {
		return fmt.Errorf("maildir: subscriptions: %w", err)
	}
	if err := lock.Close(); err != nil {
		return fmt.Errorf("maildir: subscriptions: %w", err)
	}
	if err := os.Rename(lockPath, path); err != nil {
		os.Remove(lockPath)
		done = true
		return fmt.Errorf("maildir: subscriptions: %w", err)
	}
	done = true
	return syncDir(root)
}

// lockSubscriptions creates the lock file, waiting up to s.lockTimeout for
// another writer. A lock unchanged for subscriptionsStaleAfter belongs to a
// writer that died (the file is rewritten in well under a second) and is
// removed.
func (s *Store) lockSubscriptions(lockPath string) (*os.File, error) {
	deadline := time.Now().Add(s.lockTimeout)
	wait := 5 * time.Millisecond
	for {
		f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			// The lock becomes the subscriptions file: it must belong
			// to the Maildir's owner.
			if err := s.ownerOf(lockPath).fchown(f); err != nil {
				f.Close()
				os.Remove(lockPath)
				return nil, err
			}
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("maildir: subscriptions lock: %w", err)
		}
		if fi, err := os.Stat(lockPath); err == nil && time.Since(fi.ModTime()) > subscriptionsStaleAfter {
			s.log.Warn("maildir: breaking stale lock", "path", lockPath, "age", time.Since(fi.ModTime()))
			os.Remove(lockPath)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, lockPath)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}
