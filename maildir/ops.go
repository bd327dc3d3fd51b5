package maildir

// Operations on a Mailbox: flags, expunge, append, copy and move.
//
// A flag change renames the file in cur/ and keeps its base name, so its
// UID. The rename is a compare-and-swap: it names the file as this view
// knows it, and when another session renamed it first the rename fails,
// the file is looked up again and the change is applied to its current
// flags, so concurrent changes are never lost.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// FlagOp says how StoreFlags combines flags with those a message has.
type FlagOp int

const (
	FlagsSet    FlagOp = iota // replace
	FlagsAdd                  // add
	FlagsRemove               // remove
)

// maxRenameTries bounds the retries of one flag change under contention.
const maxRenameTries = 8

// StoreFlags changes the flags and keywords of the messages with the given
// UIDs; UIDs not in the view are skipped. A keyword the folder does not
// know yet gets a letter under the dotlock; ErrBadKeyword for a name that
// is not an IMAP atom, ErrTooManyKeyword when the 26 letters are taken.
func (m *Mailbox) StoreFlags(uids []uint32, op FlagOp, flags Flag, keywords []string) error {
	if m.isClosed() {
		return ErrClosed
	}
	if op < FlagsSet || op > FlagsRemove {
		return fmt.Errorf("maildir: bad flag operation %d", op)
	}
	lesson, teach := m.lessonForKeywords(uids, op, keywords)
	if err := m.storeFlags(uids, op, flags, keywords); err != nil {
		return err
	}
	if teach {
		m.learn(lesson)
	}
	return nil
}

// storeFlags is StoreFlags without the junk learning.
func (m *Mailbox) storeFlags(uids []uint32, op FlagOp, flags Flag, keywords []string) error {
	if err := checkKeywords(keywords); err != nil {
		return err
	}
	flags &= allFlags
	kwMask, err := m.keywordMask(keywords, op != FlagsRemove)
	if err != nil {
		return err
	}
	changed := false
	var errs []error
	for _, uid := range uids {
		i, ok := m.Index(uid)
		if !ok {
			continue
		}
		c, err := m.changeFlags(&m.recs[i], op, flags, kwMask)
		changed = changed || c
		if err != nil {
			errs = append(errs, err)
		}
	}
	if changed {
		m.s.live.notify(m.dir, m)
	}
	return errors.Join(errs...)
}

// keywordMask maps keyword names to this folder's letters, giving unknown
// names letters when create is set (and skipping them otherwise).
func (m *Mailbox) keywordMask(keywords []string, create bool) (uint32, error) {
	mask, missing := m.kw.mask(keywords)
	if len(missing) == 0 || !create {
		return mask, nil
	}
	t, err := m.s.addKeywords(m.dir, missing)
	if err != nil {
		return 0, err
	}
	m.kw, m.kwStamp = t, statStamp(filepath.Join(m.dir, keywordsName))
	mask, _ = m.kw.mask(keywords)
	return mask, nil
}

// addKeywords gives names letters in dir's dovecot-keywords, under the lock.
func (s *Store) addKeywords(dir string, names []string) (keywordTable, error) {
	lock, err := s.lockFolder(dir)
	if err != nil {
		return keywordTable{}, err
	}
	defer lock.unlock()
	return addKeywordsLocked(dir, names, s.ownerOf(dir))
}

// addKeywordsLocked gives names letters; a new dovecot-keywords belongs to o.
func addKeywordsLocked(dir string, names []string, o owner) (keywordTable, error) {
	path := filepath.Join(dir, keywordsName)
	t, err := readKeywordsFile(path)
	if err != nil {
		return t, err
	}
	added := false
	for _, n := range names {
		if t.lookup(n) >= 0 {
			continue
		}
		if _, err := t.add(n); err != nil {
			return t, err
		}
		added = true
	}
	if added {
		if err := writeFileAtomic(path, 0o600, o, t.writeTo); err != nil {
			return t, err
		}
	}
	return t, nil
}

// newFlags combines what a file has with a change. Keyword letters that
// have no name in the table are kept by FlagsSet: they belong to no
// keyword this view can show, and dropping them would lose them.
func (m *Mailbox) newFlags(op FlagOp, haveF Flag, haveK uint32, flags Flag, kw uint32) (Flag, uint32) {
	switch op {
	case FlagsAdd:
		return haveF | flags, haveK | kw
	case FlagsRemove:
		return haveF &^ flags, haveK &^ kw
	}
	var known uint32
	for i, n := range m.kw.names {
		if n != "" {
			known |= 1 << i
		}
	}
	return flags, kw | (haveK &^ known)
}

// changeFlags renames one message's file; it reports whether it did.
func (m *Mailbox) changeFlags(r *msgRec, op FlagOp, flags Flag, kw uint32) (bool, error) {
	for try := 0; try < maxRenameTries; try++ {
		name := m.nameOf(r)
		fi := parseFileName(name)
		nf, nk := m.newFlags(op, fi.flags, fi.kw, flags, kw)
		if !r.inNew && nf == fi.flags && nk == fi.kw {
			r.flags, r.kw = nf, nk
			return false, nil
		}
		dst := curName(fi.base, nf, nk, fi.other)
		err := os.Rename(m.pathOf(r), filepath.Join(m.dir, "cur", dst))
		if err == nil {
			m.setName(r, dst, false)
			r.flags, r.kw = nf, nk
			return true, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("maildir: %w", err)
		}
		// Renamed by someone else: find its current name and try again.
		path, ferr := m.findFile(fi.base)
		if errors.Is(ferr, ErrNoSuchMessage) {
			return false, nil // expunged meanwhile; the next Sync says so
		}
		if ferr != nil {
			return false, ferr
		}
		nfi := parseFileName(filepath.Base(path))
		m.setName(r, filepath.Base(path), filepath.Base(filepath.Dir(path)) == "new")
		r.flags, r.kw = nfi.flags, nfi.kw
	}
	return false, fmt.Errorf("maildir: UID %d: flags keep changing under us", r.uid)
}

// Expunge removes messages: with nil uids every message flagged \Deleted,
// otherwise the given ones (UIDs not in the view are skipped). It returns
// the UIDs removed, ascending; they leave the view at once.
func (m *Mailbox) Expunge(uids []uint32) ([]uint32, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	gone := make(map[uint32]bool)
	if uids == nil {
		for i := range m.recs {
			if m.recs[i].flags&FlagDeleted != 0 {
				gone[m.recs[i].uid] = false
			}
		}
	} else {
		for _, u := range uids {
			if _, ok := m.Index(u); ok {
				gone[u] = false
			}
		}
	}
	var bytes, count int64
	var errs []error
	dirs := map[string]bool{}
	for uid := range gone {
		i, _ := m.Index(uid)
		r := &m.recs[i]
		size, err := m.removeFile(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		gone[uid] = true
		if size >= 0 {
			bytes += size
			count++
		}
		dirs[filepath.Dir(m.pathOf(r))] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	var out []uint32
	keep := m.recs[:0]
	for _, r := range m.recs {
		if gone[r.uid] {
			out = append(out, r.uid)
			m.garbage += int(r.nameLen)
			continue
		}
		keep = append(keep, r)
	}
	m.recs = keep
	if len(out) > 0 {
		m.sumForget = true
		if err := m.s.addUsage(m.addr, -bytes, -count); err != nil {
			m.s.log.Warn("maildir: quota update", "addr", m.addr, "err", err)
		}
		m.s.live.notify(m.dir, m)
	}
	return out, errors.Join(errs...)
}

// removeFile unlinks a message's file, following a rename by another
// session. It returns the file's size, or -1 when it was gone already.
func (m *Mailbox) removeFile(r *msgRec) (int64, error) {
	path := m.pathOf(r)
	for try := 0; try < maxRenameTries; try++ {
		var st syscall.Stat_t
		size := int64(-1)
		if syscall.Lstat(path, &st) == nil {
			size = st.Size
		}
		err := os.Remove(path)
		if err == nil {
			if s, _ := sizesFromBase(m.baseOf(r)); s >= 0 {
				size = s
			}
			return size, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("maildir: %w", err)
		}
		path, err = m.findFile(m.baseOf(r))
		if errors.Is(err, ErrNoSuchMessage) {
			return -1, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("maildir: UID %d keeps moving", r.uid)
}

// Append stores a message read from r with the given flags, keywords and
// internal date (zero: now) and returns its UID. The message reaches this
// view with the next Sync, like any new message.
func (m *Mailbox) Append(r io.Reader, flags Flag, keywords []string, date time.Time) (uint32, error) {
	if m.isClosed() {
		return 0, ErrClosed
	}
	if err := checkKeywords(keywords); err != nil {
		return 0, err
	}
	if date.IsZero() {
		date = m.s.now()
	}
	sm, err := m.s.storeMessage(filepath.Join(m.dir, "tmp"), r, 0, date)
	if err != nil {
		return 0, err
	}
	defer os.Remove(sm.tmpPath) // a no-op once renamed
	lock, err := m.s.lockFolder(m.dir)
	if err != nil {
		return 0, err
	}
	t, err := addKeywordsLocked(m.dir, keywords, m.s.ownerOf(m.dir))
	if err != nil {
		lock.unlock()
		return 0, err
	}
	kw, _ := t.mask(keywords)
	dst := filepath.Join(m.dir, "cur", curName(sm.base, flags&allFlags, kw, 0))
	if err := os.Rename(sm.tmpPath, dst); err != nil {
		lock.unlock()
		return 0, fmt.Errorf("maildir: %w", err)
	}
	err = syncDir(filepath.Join(m.dir, "cur"))
	var uids []uint32
	if err == nil {
		uids, _, err = m.s.assignUIDsLocked(m.addr, m.dir, []string{sm.base})
	}
	if uerr := lock.unlock(); err == nil && uerr != nil {
		m.s.log.Warn("maildir: unlocking", "dir", m.dir, "err", uerr)
	}
	if err != nil {
		return 0, err
	}
	if err := m.s.addUsage(m.addr, sm.size, 1); err != nil {
		m.s.log.Warn("maildir: quota update", "addr", m.addr, "err", err)
	}
	m.s.live.notify(m.dir, nil)
	m.learnFromAppend(dst)
	return uids[0], nil
}

// assignUIDsLocked gives the base names UIDs in dir's uidlist (keeping a
// UID one already has) and returns them with the UIDVALIDITY. The caller
// holds the dotlock. A missing or corrupt uidlist is started anew.
func (s *Store) assignUIDsLocked(addr, dir string, bases []string) ([]uint32, uint32, error) {
	path := filepath.Join(dir, uidlistName)
	ul, _, err := readUidlistFile(path)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		ul = &uidlist{validity: s.nextUIDValidity(addr, 0), next: 1, guid: newGUID()}
	case errors.Is(err, errCorruptUidlist):
		s.log.Warn("maildir: rebuilding the uidlist with a new UIDVALIDITY", "dir", dir, "err", err)
		ul = &uidlist{validity: s.nextUIDValidity(addr, 0), next: 1, guid: newGUID()}
	default:
		return nil, 0, fmt.Errorf("maildir: reading uidlist: %w", err)
	}
	have := make(map[string]uint32, len(ul.recs))
	for _, r := range ul.recs {
		have[r.base] = r.uid
	}
	uids := make([]uint32, len(bases))
	for i, b := range bases {
		if u, ok := have[b]; ok {
			uids[i] = u
			continue
		}
		if ul.next == 0 {
			return nil, 0, fmt.Errorf("maildir: %s: UIDs exhausted", dir)
		}
		uids[i] = ul.next
		have[b] = ul.next
		ul.recs = append(ul.recs, uidRec{uid: ul.next, base: b})
		ul.next++
	}
	slices.SortFunc(ul.recs, func(a, b uidRec) int { return cmpUID(a.uid, b.uid) })
	if err := writeFileAtomic(path, 0o600, s.ownerOf(dir), ul.writeTo); err != nil {
		return nil, 0, err
	}
	return uids, ul.validity, nil
}

// CopyTo copies messages into the folder dest of the same user, keeping
// flags, keywords and internal dates, with a hard link where possible. It
// returns the source UIDs copied and their new UIDs (UIDPLUS COPYUID).
func (m *Mailbox) CopyTo(uids []uint32, dest string) (srcUIDs, destUIDs []uint32, destValidity uint32, err error) {
	lesson, teach := m.lessonForTransfer(uids, dest)
	srcUIDs, destUIDs, destValidity, err = m.transfer(uids, dest, false)
	if err == nil && teach {
		m.learn(lesson)
	}
	return srcUIDs, destUIDs, destValidity, err
}

// MoveTo moves messages into the folder dest (RFC 6851): the files are
// renamed into dest, then leave this view. It returns what CopyTo does.
func (m *Mailbox) MoveTo(uids []uint32, dest string) (srcUIDs, destUIDs []uint32, destValidity uint32, err error) {
	lesson, teach := m.lessonForTransfer(uids, dest)
	srcUIDs, destUIDs, destValidity, err = m.transfer(uids, dest, true)
	if err == nil && teach {
		m.learn(lesson)
	}
	return srcUIDs, destUIDs, destValidity, err
}

type transferItem struct {
	rec  int
	uid  uint32
	tmp  string // copy: the file in dest's tmp/
	base string // new base name in dest
	size int64
}

func (m *Mailbox) transfer(uids []uint32, dest string, move bool) ([]uint32, []uint32, uint32, error) {
	if m.isClosed() {
		return nil, nil, 0, ErrClosed
	}
	destDir, err := m.s.mailboxDir(m.addr, dest)
	if err != nil {
		return nil, nil, 0, err
	}
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var items []transferItem
	for _, u := range sorted {
		if i, ok := m.Index(u); ok {
			items = append(items, transferItem{rec: i, uid: u})
		}
	}
	if len(items) == 0 {
		return nil, nil, 0, nil
	}
	defer func() {
		for _, it := range items {
			if it.tmp != "" {
				os.Remove(it.tmp)
			}
		}
	}()
	now := m.s.now()
	for k := range items {
		it := &items[k]
		r := &m.recs[it.rec]
		size, _ := sizesFromBase(m.baseOf(r))
		if size < 0 {
			if st, err := os.Stat(m.pathOf(r)); err == nil {
				size = st.Size()
			}
		}
		it.size = size
		vsize := r.vsize
		if vsize < 0 {
			vsize = size
		}
		it.base = withSizes(m.s.live.names.next(now), max(size, 0), max(vsize, 0))
		if !move {
			if it.tmp, err = m.linkToTmp(r, filepath.Join(destDir, "tmp")); err != nil {
				return nil, nil, 0, err
			}
		}
	}
	lock, err := m.s.lockFolder(destDir)
	if err != nil {
		return nil, nil, 0, err
	}
	srcUIDs, destUIDs, validity, err := m.placeLocked(items, destDir, move)
	if uerr := lock.unlock(); uerr != nil {
		m.s.log.Warn("maildir: unlocking", "dir", destDir, "err", uerr)
	}
	if len(srcUIDs) > 0 {
		m.s.live.notify(destDir, nil)
		if move {
			m.dropFromView(srcUIDs)
			m.sumForget = true
			if serr := syncDir(filepath.Join(m.dir, "cur")); serr != nil && err == nil {
				err = serr
			}
			m.s.live.notify(m.dir, m)
		} else {
			var bytes int64
			for _, it := range items {
				if it.tmp == "" && it.size > 0 {
					bytes += it.size
				}
			}
			if qerr := m.s.addUsage(m.addr, bytes, int64(len(srcUIDs))); qerr != nil {
				m.s.log.Warn("maildir: quota update", "addr", m.addr, "err", qerr)
			}
		}
	}
	return srcUIDs, destUIDs, validity, err
}

// linkToTmp puts a copy of r's file into tmpDir: a hard link, or a copy
// where links do not work.
func (m *Mailbox) linkToTmp(r *msgRec, tmpDir string) (string, error) {
	src := m.pathOf(r)
	dst := filepath.Join(tmpDir, m.s.live.names.next(m.s.now()))
	for try := 0; try < maxRenameTries; try++ {
		err := os.Link(src, dst)
		if err == nil {
			return dst, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			if src, err = m.findFile(m.baseOf(r)); err != nil {
				return "", err
			}
			continue
		}
		// EXDEV, EPERM, EMLINK and the like: copy.
		return m.s.copyToTmp(src, tmpDir)
	}
	return "", fmt.Errorf("maildir: UID %d keeps moving", r.uid)
}

// placeLocked puts the items into destDir's cur/ and gives them UIDs; the
// caller holds destDir's lock.
func (m *Mailbox) placeLocked(items []transferItem, destDir string, move bool) ([]uint32, []uint32, uint32, error) {
	var names []string
	for _, it := range items {
		names = append(names, m.kw.list(m.recs[it.rec].kw)...)
	}
	t, err := addKeywordsLocked(destDir, names, m.s.ownerOf(destDir))
	if err != nil && !errors.Is(err, ErrTooManyKeyword) {
		return nil, nil, 0, err
	}
	var srcUIDs []uint32
	var bases []string
	var placeErr error
	for k := range items {
		it := &items[k]
		r := &m.recs[it.rec]
		kw, _ := t.mask(m.kw.list(r.kw))
		dst := filepath.Join(destDir, "cur", curName(it.base, r.flags, kw, 0))
		if move {
			if err := m.renameFollowing(r, dst); err != nil {
				if errors.Is(err, ErrNoSuchMessage) {
					continue // expunged meanwhile
				}
				placeErr = err
				break
			}
		} else {
			if err := os.Rename(it.tmp, dst); err != nil {
				placeErr = fmt.Errorf("maildir: %w", err)
				break
			}
			it.tmp = ""
		}
		srcUIDs = append(srcUIDs, it.uid)
		bases = append(bases, it.base)
	}
	if len(bases) == 0 {
		return nil, nil, 0, placeErr
	}
	if err := syncDir(filepath.Join(destDir, "cur")); err != nil {
		return nil, nil, 0, err
	}
	destUIDs, validity, aerr := m.s.assignUIDsLocked(m.addr, destDir, bases)
	if aerr != nil {
		return nil, nil, 0, aerr
	}
	return srcUIDs, destUIDs, validity, placeErr
}

// renameFollowing renames r's file to dst, following renames by others.
func (m *Mailbox) renameFollowing(r *msgRec, dst string) error {
	src := m.pathOf(r)
	for try := 0; try < maxRenameTries; try++ {
		err := os.Rename(src, dst)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("maildir: %w", err)
		}
		if src, err = m.findFile(m.baseOf(r)); err != nil {
			return err
		}
	}
	return fmt.Errorf("maildir: UID %d keeps moving", r.uid)
}

// dropFromView removes UIDs from the view.
func (m *Mailbox) dropFromView(uids []uint32) {
	gone := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		gone[u] = true
	}
	keep := m.recs[:0]
	for _, r := range m.recs {
		if gone[r.uid] {
			m.garbage += int(r.nameLen)
			continue
		}
		keep = append(keep, r)
	}
	m.recs = keep
}
