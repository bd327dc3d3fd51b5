package maildir

// Delivery: the only way mail enters a Maildir from outside. The message is
// written to tmp/ with O_EXCL, fsynced, renamed (or hard linked) into new/
// under its final name "<unique>,S=<size>,W=<vsize>", and new/ is fsynced:
// when Deliver or Commit returns nil the message survives a crash, and no
// reader ever sees a partial file.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DeliveryResult describes a delivered message.
type DeliveryResult struct {
	Folder string // the folder name delivered to ("INBOX" for "")
	Base   string // the file's base name in new/
	Size   int64  // RFC822.SIZE (CRLF)
}

// Deliver stores the message read from r in a user's folder ("" is INBOX)
// and returns once it is durable. ErrTooBig when its CRLF size exceeds
// maxSize (0: no limit), with no file left behind.
func (s *Store) Deliver(addr, folder string, r io.Reader, maxSize int64) (DeliveryResult, error) {
	if folder == "" {
		folder = inboxName
	}
	dir, err := s.mailboxDir(addr, folder)
	if err != nil {
		return DeliveryResult{}, err
	}
	sm, err := s.storeMessage(filepath.Join(dir, "tmp"), r, maxSize, time.Time{})
	if err != nil {
		return DeliveryResult{}, err
	}
	if err := os.Rename(sm.tmpPath, filepath.Join(dir, "new", sm.base)); err != nil {
		os.Remove(sm.tmpPath)
		return DeliveryResult{}, fmt.Errorf("maildir: %w", err)
	}
	if err := syncDir(filepath.Join(dir, "new")); err != nil {
		return DeliveryResult{}, err
	}
	if err := s.addUsage(addr, sm.size, 1); err != nil {
		s.log.Warn("maildir: quota update", "addr", addr, "err", err)
	}
	s.live.notify(dir, nil)
	return DeliveryResult{Folder: folder, Base: sm.base, Size: sm.vsize}, nil
}

// Delivery is one message for several recipients (SMTP): the body is
// written once to a spool file, then linked into each recipient's new/ by
// Commit. Not safe for concurrent use.
type Delivery struct {
	s      *Store
	path   string
	unique string
	f      *os.File
	lw     *lfWriter
	rcpts  []deliveryRcpt
	err    error // sticky: ErrTooBig, a write error, or errDeliveryDone
}

type deliveryRcpt struct {
	addr, folder, dir string
}

var errDeliveryDone = errors.New("maildir: delivery already committed or aborted")

// spoolDir is the mail root's directory for bodies not yet delivered;
// no address can map to it (userRoot refuses a leading '.').
const spoolDir = ".tmp"

// NewDelivery starts a message of at most maxSize CRLF bytes (0: no limit).
func (s *Store) NewDelivery(maxSize int64) (*Delivery, error) {
	dir := filepath.Join(s.root, spoolDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	unique := s.live.names.next(s.now())
	path := filepath.Join(dir, unique)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	return &Delivery{s: s, path: path, unique: unique, f: f, lw: newLFWriter(f, maxSize)}, nil
}

// Write streams the message; ErrTooBig as soon as the limit is passed.
func (d *Delivery) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.lw.Write(p)
	if err != nil {
		d.fail(err)
		return n, err
	}
	return n, nil
}

func (d *Delivery) fail(err error) {
	d.err = err
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
	os.Remove(d.path)
}

// AddRecipient adds a user's folder ("" is INBOX); the same folder twice
// counts once.
func (d *Delivery) AddRecipient(addr, folder string) error {
	if d.err != nil {
		return d.err
	}
	if folder == "" {
		folder = inboxName
	}
	dir, err := d.s.mailboxDir(addr, folder)
	if err != nil {
		return err
	}
	for _, r := range d.rcpts {
		if r.dir == dir {
			return nil
		}
	}
	d.rcpts = append(d.rcpts, deliveryRcpt{addr: addr, folder: folder, dir: dir})
	return nil
}

// Commit makes the message durable in every recipient's new/ and returns
// nil only then. On failure the links already made are removed again and
// no recipient has the message. The Delivery is finished either way.
func (d *Delivery) Commit() error {
	if d.err != nil {
		return d.err
	}
	if len(d.rcpts) == 0 {
		d.fail(errDeliveryDone)
		return errors.New("maildir: delivery without recipients")
	}
	if err := d.lw.flush(); err != nil {
		d.fail(err)
		return err
	}
	if err := d.f.Sync(); err != nil {
		d.fail(errDeliveryDone)
		return fmt.Errorf("maildir: fsync: %w", err)
	}
	if err := d.f.Close(); err != nil {
		d.f = nil
		d.fail(errDeliveryDone)
		return fmt.Errorf("maildir: %w", err)
	}
	d.f = nil
	base := withSizes(d.unique, d.lw.size, d.lw.vsize)
	var from, returnPath string
	if slices.ContainsFunc(d.rcpts, func(r deliveryRcpt) bool { return r.folder == inboxName }) {
		from, returnPath = spooledSenders(d.path)
	}
	var made []string
	rollback := func(err error) error {
		for _, p := range made {
			os.Remove(p)
		}
		for _, p := range made {
			syncDir(filepath.Dir(p))
		}
		d.fail(errDeliveryDone)
		return err
	}
	placed := make([]deliveryRcpt, 0, len(d.rcpts)) // where each copy went
	sizes := make([]int64, 0, len(d.rcpts))
	for _, r := range d.rcpts {
		if r.folder == inboxName && d.s.junkVerdictFor(r.addr, from, returnPath) {
			dst, dir, size, err := d.s.placeJunkCopy(d.path, r.addr)
			if err != nil {
				return rollback(err)
			}
			made = append(made, dst)
			placed = append(placed, deliveryRcpt{addr: r.addr, folder: junkFolder, dir: dir})
			sizes = append(sizes, size)
			continue
		}
		dst := filepath.Join(r.dir, "new", base)
		// A hard link shares the spool file's owner: it is given to the
		// first recipient's owner, and a recipient with another owner
		// gets a copy of its own.
		link := true
		if o := d.s.ownerOf(r.dir); !o.ownedBy(d.path) {
			if len(made) == 0 {
				if err := o.chown(d.path); err != nil {
					return rollback(err)
				}
			} else {
				link = false
			}
		}
		if err := d.s.placeSpooled(d.path, r.dir, dst, link); err != nil {
			return rollback(err)
		}
		made = append(made, dst)
		placed = append(placed, r)
		sizes = append(sizes, d.lw.size)
	}
	for _, p := range made {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return rollback(err)
		}
	}
	d.fail(errDeliveryDone) // removes the spool file; the links stay
	for i, r := range placed {
		if err := d.s.addUsage(r.addr, sizes[i], 1); err != nil {
			d.s.log.Warn("maildir: quota update", "addr", r.addr, "err", err)
		}
		d.s.live.notify(r.dir, nil)
	}
	return nil
}

// placeJunkCopy delivers the spooled message to addr's Junk folder with
// "X-Spam-Status: Yes" in front and the $Junk keyword, durably in cur/.
// It returns the file, the folder directory and the stored size.
func (s *Store) placeJunkCopy(spool, addr string) (path, dir string, size int64, err error) {
	name, err := s.SpecialFolder(addr, UseJunk)
	if err != nil {
		return "", "", 0, err
	}
	if dir, err = s.mailboxDir(addr, name); err != nil {
		return "", "", 0, err
	}
	t, err := s.addKeywords(dir, []string{junkKeyword})
	if err != nil {
		return "", "", 0, err
	}
	mask, _ := t.mask([]string{junkKeyword})
	f, err := os.Open(spool)
	if err != nil {
		return "", "", 0, fmt.Errorf("maildir: %w", err)
	}
	defer f.Close()
	sm, err := s.storeMessage(filepath.Join(dir, "tmp"), io.MultiReader(strings.NewReader(spamHeader), f), 0, time.Time{})
	if err != nil {
		return "", "", 0, err
	}
	path = filepath.Join(dir, "cur", curName(sm.base, 0, mask, 0))
	if err := os.Rename(sm.tmpPath, path); err != nil {
		os.Remove(sm.tmpPath)
		return "", "", 0, fmt.Errorf("maildir: %w", err)
	}
	return path, dir, sm.size, nil
}

// placeSpooled links the spool file to dst (when link is set), or copies
// it through the folder's tmp/ when a link is not possible or not wanted.
func (s *Store) placeSpooled(spool, dir, dst string, link bool) error {
	if link {
		err := os.Link(spool, dst)
		if err == nil {
			return nil
		}
		if os.IsExist(err) {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	tmp, cerr := s.copyToTmp(spool, filepath.Join(dir, "tmp"))
	if cerr != nil {
		return cerr
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// Abort drops the message; no recipient gets it.
func (d *Delivery) Abort() error {
	if d.err == errDeliveryDone {
		return nil
	}
	d.fail(errDeliveryDone)
	return nil
}
