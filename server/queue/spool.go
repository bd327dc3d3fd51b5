package queue

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Spool is the queue directory on disk; the running Queue and the CLI
// (queue list/delete, sendmail) share it. Every write follows the Maildir
// discipline: a file in tmp/, fsync, rename into place, fsync the
// directory.
type Spool struct {
	dir string
}

// envelopeVersion is the format of the envelope files; see doc.go.
const envelopeVersion = 1

// Recipient states.
const (
	StatePending = "pending" // not delivered yet; Next says when to try again
	StateSent    = "sent"    // the remote side answered 250: never sent again
	StateFailed  = "failed"  // permanent failure or expiry; Reported once a DSN is out
)

// Envelope is the state of one queued message, rewritten atomically after
// every delivery attempt.
type Envelope struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	From    string    `json:"from"` // "" is the null reverse-path (a bounce)
	Created time.Time `json:"created"`
	// DKIM holds the DKIM-Signature fields (CRLF-terminated) sent before
	// the message file, empty when the message is not signed.
	DKIM  string       `json:"dkim,omitempty"`
	Rcpts []*Recipient `json:"rcpts"`
}

// Recipient is one envelope recipient and where its delivery stands.
type Recipient struct {
	Addr     string    `json:"addr"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts,omitempty"`
	Next     time.Time `json:"next,omitzero"`
	// Status and Reply are the last result: the enhanced status code
	// (RFC 3463) and the remote reply or local reason.
	Status    string `json:"status,omitempty"`
	Reply     string `json:"reply,omitempty"`
	RemoteMTA string `json:"remote_mta,omitempty"`
	Reported  bool   `json:"reported,omitempty"` // a DSN for this failure is out
}

// Domain is the part after the @, lower case.
func (r *Recipient) Domain() string { return domainOf(r.Addr) }

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return strings.ToLower(strings.TrimSuffix(d, "."))
}

// done reports whether nothing is left to do for the message.
func (e *Envelope) done() bool {
	for _, r := range e.Rcpts {
		if r.State == StatePending || (r.State == StateFailed && !r.Reported) {
			return false
		}
	}
	return true
}

// OpenSpool makes the spool directories under dir when missing.
func OpenSpool(dir string) (*Spool, error) {
	for _, sub := range []string{"", "tmp", "msg", "env"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
	}
	return &Spool{dir: dir}, nil
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

func (s *Spool) msgPath(id string) string { return filepath.Join(s.dir, "msg", id) }
func (s *Spool) envPath(id string) string { return filepath.Join(s.dir, "env", id+".json") }
func (s *Spool) flushPath() string        { return filepath.Join(s.dir, "flush") }

// newID is sortable by time and unique: nanoseconds and 48 random bits.
func newID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%016x%s", now.UnixNano(), hex.EncodeToString(b[:]))
}

// ValidID reports whether id can name a queued message (and nothing else).
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// createTemp opens a new file in tmp/.
func (s *Spool) createTemp(prefix string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), prefix)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return f, nil
}

// place fsyncs and closes f, renames it to path and fsyncs path's directory.
func place(f *os.File, path string) error {
	tmp := f.Name()
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("queue: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("queue: fsync %s: %w", dir, err)
	}
	return nil
}

// writeEnvelope replaces the envelope file atomically.
func (s *Spool) writeEnvelope(e *Envelope) error {
	e.Version = envelopeVersion
	data, err := json.MarshalIndent(e, "", "\t")
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	f, err := s.createTemp(e.ID + ".env.")
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("queue: %w", err)
	}
	return place(f, s.envPath(e.ID))
}

// errGone is an envelope deleted (queue delete) under a running delivery.
var errGone = errors.New("queue: message deleted")

// updateEnvelope writes e unless the message was deleted meanwhile. The
// spool lock keeps a delete by another process (queue delete) from
// falling between the check and the rename.
func (s *Spool) updateEnvelope(e *Envelope) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(s.envPath(e.ID)); errors.Is(err, os.ErrNotExist) {
		return errGone
	}
	return s.writeEnvelope(e)
}

// lock takes the spool's lock file (flock, so it also excludes other
// processes and dies with its holder).
func (s *Spool) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("queue: locking the spool: %w", err)
	}
	return func() { f.Close() }, nil
}

// ReadEnvelope loads one envelope.
func (s *Spool) ReadEnvelope(id string) (*Envelope, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("queue: %q is not a queue ID", id)
	}
	data, err := os.ReadFile(s.envPath(id))
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("queue: %s: %w", s.envPath(id), err)
	}
	if e.Version != envelopeVersion {
		return nil, fmt.Errorf("queue: %s: unknown envelope version %d", s.envPath(id), e.Version)
	}
	if e.ID != id {
		return nil, fmt.Errorf("queue: %s names message %q", s.envPath(id), e.ID)
	}
	return &e, nil
}

// IDs lists the committed messages, oldest first.
func (s *Spool) IDs() ([]string, error) {
	names, err := readDirNames(filepath.Join(s.dir, "env"))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, ".json"); ok && ValidID(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return names, nil
}

// List returns every committed message's envelope, oldest first; a file
// that cannot be read is skipped and reported in the error.
func (s *Spool) List() ([]*Envelope, error) {
	ids, err := s.IDs()
	if err != nil {
		return nil, err
	}
	var out []*Envelope
	var errs []error
	for _, id := range ids {
		e, err := s.ReadEnvelope(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

// Delete removes a message: envelope first, so a half-deleted message
// is an orphan message file that Clean removes, never a message without
// its body.
func (s *Spool) Delete(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("queue: %q is not a queue ID", id)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.envPath(id)); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if err := syncDir(filepath.Join(s.dir, "env")); err != nil {
		return err
	}
	if err := os.Remove(s.msgPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// RequestFlush asks the running server to retry every message now.
func (s *Spool) RequestFlush() error {
	f, err := os.OpenFile(s.flushPath(), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return f.Close()
}

// takeFlush reports (and clears) a flush request.
func (s *Spool) takeFlush() bool {
	return os.Remove(s.flushPath()) == nil
}

// orphanAge is how old a message file without an envelope, or a file in
// tmp/, must be before Clean removes it: younger ones may be a commit in
// progress in another process (sendmail).
const orphanAge = time.Hour

// Clean removes what interrupted commits left: temporary files and
// message files that never got an envelope.
func (s *Spool) Clean(now time.Time) error {
	var errs []error
	if names, err := readDirNames(filepath.Join(s.dir, "tmp")); err == nil {
		for _, n := range names {
			p := filepath.Join(s.dir, "tmp", n)
			if fi, err := os.Stat(p); err == nil && now.Sub(fi.ModTime()) > orphanAge {
				errs = append(errs, os.Remove(p))
			}
		}
	} else {
		errs = append(errs, err)
	}
	names, err := readDirNames(filepath.Join(s.dir, "msg"))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, id := range names {
		if _, err := os.Stat(s.envPath(id)); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if fi, err := os.Stat(s.msgPath(id)); err == nil && now.Sub(fi.ModTime()) > orphanAge {
			errs = append(errs, os.Remove(s.msgPath(id)))
		}
	}
	return errors.Join(errs...)
}

// openMessage opens the message as it is sent: the DKIM fields, then
// the file. size is the total in bytes.
func (s *Spool) openMessage(e *Envelope) (r io.ReadCloser, size int64, err error) {
	f, err := os.Open(s.msgPath(e.ID))
	if err != nil {
		return nil, 0, fmt.Errorf("queue: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("queue: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader(e.DKIM), f), f}, int64(len(e.DKIM)) + fi.Size(), nil
}
