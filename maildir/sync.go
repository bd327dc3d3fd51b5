package maildir

// Sync: bring a Mailbox view up to date with the directories and the
// uidlist.
//
// A directory (new/, cur/) is read again only when its stamp (inode, size,
// mtime) changed, or when it changed within a second before the last read.
// A read is repeated while the directory changes under it (a rename during
// readdir can hide a file); when it never settles, messages missing from it
// are kept in the view rather than taken for expunged. The uidlist is read
// when it changed or when files without a known UID appear. Files without a
// UID get the next UIDs under the dotlock, sorted by mtime then name, after
// the uidlist and the directories were read again under the lock; the
// uidlist is then rewritten, dropping records of files that are gone.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ent is one file found by a scan.
type ent struct {
	name  string
	fi    fileInfo
	inNew bool
	old   int32 // index in Mailbox.recs of the same message, or -1
	uid   uint32
	mtime int64
	vsize int64
	ext   string // uidlist extensions
}

type listing struct {
	ents   []ent
	byBase map[string]int32
	newDir dirState
	curDir dirState
	stable bool // every directory read was stable

	validityChanged bool
}

// Sync re-reads what changed and returns the difference to the previous view.
func (m *Mailbox) Sync() (Changes, error) {
	if m.isClosed() {
		return Changes{}, ErrClosed
	}
	ch, err := m.sync()
	if err == nil {
		m.maybeWriteIndex()
	}
	return ch, err
}

// sync brings the view up to date. Files found in new/ stay there: they
// move to cur/ only when a session opens the folder (openMailbox), as
// with Dovecot's SELECT. Moving them on every Sync would change cur/ and
// so make the next Sync read all of cur/ again: a directory's stamp
// cannot tell our own rename from someone else's change made in the same
// instant, so a changed cur/ must always be read whole.
func (m *Mailbox) sync() (Changes, error) {
	m.reloadKeywords()
	ulAt := time.Now().UnixNano()
	ulSt := statStamp(filepath.Join(m.dir, uidlistName))
	ls, err := m.scan(nil)
	if err != nil {
		return Changes{}, err
	}
	if ls == nil && ulSt == m.ulStamp && m.validity != 0 {
		m.noteSeen()
		return Changes{}, nil
	}
	if ls == nil {
		ls = m.viewListing()
	}
	m.index(ls)
	unknown := m.matchOld(ls)
	needLock := false
	if unknown || ulSt != m.ulStamp || m.validity == 0 {
		ul, _, err := readUidlistFile(filepath.Join(m.dir, uidlistName))
		switch {
		case err == nil && (ul.validity == m.validity || m.validity == 0):
			m.validity = ul.validity
			m.matchUidlist(ls, ul)
			m.next = max(m.next, ul.next)
			m.guid, m.hdrExtra = ul.guid, ul.hdrExtra
			m.ulStamp, m.ulAt = ulSt, ulAt
		case err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errCorruptUidlist):
			return Changes{}, fmt.Errorf("maildir: reading uidlist: %w", err)
		default:
			needLock = true // lost, corrupt or replaced: settle it under the lock
		}
	}
	for i := range ls.ents {
		e := &ls.ents[i]
		if e.uid == 0 || e.vsize < 0 {
			needLock = true
			break
		}
	}
	if needLock {
		if ls, err = m.syncLocked(ls); err != nil {
			return Changes{}, err
		}
	}
	ch := m.apply(ls)
	m.noteSeen()
	return ch, nil
}

// scan reads the directories that changed. With prev, a directory is read
// again only when its stamp differs from prev's; without, when it is dirty
// against the view. nil, nil when nothing needs reading.
func (m *Mailbox) scan(prev *listing) (*listing, error) {
	if prev == nil && !m.newDir.dirty(statStamp(filepath.Join(m.dir, "new"))) &&
		!m.curDir.dirty(statStamp(filepath.Join(m.dir, "cur"))) {
		return nil, nil // before building a listing of the whole view
	}
	ls := &listing{stable: true}
	any := false
	for _, inNew := range []bool{true, false} { // new/ first: a file moving to cur/ is seen twice, not never
		sub, state := "cur", m.curDir
		if inNew {
			sub, state = "new", m.newDir
		}
		if prev != nil {
			state = prev.curDir
			if inNew {
				state = prev.newDir
			}
		}
		dir := filepath.Join(m.dir, sub)
		st := statStamp(dir)
		reread := state.dirty(st)
		if prev != nil {
			reread = st != state.st
		}
		if !reread {
			if prev != nil {
				for _, e := range prev.ents {
					if e.inNew == inNew {
						ls.ents = append(ls.ents, e)
					}
				}
			} else {
				for i := range m.recs {
					r := &m.recs[i]
					if r.inNew == inNew {
						ls.ents = append(ls.ents, m.recEnt(i))
					}
				}
			}
			if inNew {
				ls.newDir = state
			} else {
				ls.curDir = state
			}
			continue
		}
		any = true
		scanAt := time.Now().UnixNano()
		names, dst, stable, err := readDirNames(dir)
		if err != nil {
			return nil, err
		}
		ls.stable = ls.stable && stable
		ds := dirState{st: dst, scanAt: scanAt}
		if inNew {
			ls.newDir = ds
		} else {
			ls.curDir = ds
		}
		ls.ents = slices.Grow(ls.ents, len(names)+len(m.recs))
		for _, n := range names {
			fi := parseFileName(n)
			if !validBase(fi.base) {
				continue
			}
			_, vs := sizesFromBase(fi.base)
			ls.ents = append(ls.ents, ent{name: n, fi: fi, inNew: inNew, old: -1, mtime: noTime, vsize: vs})
		}
	}
	if !any && prev == nil {
		return nil, nil
	}
	return ls, nil
}

// viewListing is the current view as a listing, for a uidlist-only change.
func (m *Mailbox) viewListing() *listing {
	ls := &listing{stable: true, newDir: m.newDir, curDir: m.curDir}
	ls.ents = make([]ent, len(m.recs))
	for i := range m.recs {
		ls.ents[i] = m.recEnt(i)
	}
	return ls
}

func (m *Mailbox) recEnt(i int) ent {
	r := &m.recs[i]
	name := m.nameOf(r)
	return ent{
		name: name, fi: parseFileName(name), inNew: r.inNew, old: int32(i),
		uid: r.uid, mtime: r.mtime, vsize: r.vsize,
	}
}

// index builds byBase and settles base names seen twice. A base name both
// in new/ and cur/ is either a move seen half-way (new/ is read first) or
// two files: the cur/ one keeps the name and its UID, and the new/ one is
// renamed to a fresh base name (see splitDuplicate), so that it gets a UID
// of its own instead of being hidden. Two files of one base name in the
// same directory (only the flags differ) count once: that is what a flag
// change during the read looks like, and renaming one of them could take
// the UID away from the message that is really there.
func (m *Mailbox) index(ls *listing) {
	ls.byBase = make(map[string]int32, len(ls.ents))
	out := ls.ents[:0]
	var split []ent
	for _, e := range ls.ents {
		if j, dup := ls.byBase[e.fi.base]; dup {
			if out[j].inNew != e.inNew {
				inNew := e
				if out[j].inNew {
					inNew, out[j] = out[j], e
				}
				if fresh, ok := m.splitDuplicate(inNew.name); ok {
					split = append(split, fresh)
				}
			}
			continue
		}
		ls.byBase[e.fi.base] = int32(len(out))
		out = append(out, e)
	}
	for _, e := range split {
		ls.byBase[e.fi.base] = int32(len(out))
		out = append(out, e)
	}
	ls.ents = out
}

// splitDuplicate renames new/name, whose base name is also in cur/, to a
// fresh base name, as Dovecot does: when the rename fails because the file
// is gone, it was no duplicate but a move to cur/ seen half-way.
func (m *Mailbox) splitDuplicate(name string) (ent, bool) {
	base := parseFileName(name).base
	fresh := m.s.live.names.next(m.s.now())
	if size, vsize := sizesFromBase(base); size >= 0 && vsize >= 0 {
		fresh = withSizes(fresh, size, vsize)
	}
	fresh += name[len(base):]
	dir := filepath.Join(m.dir, "new")
	if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, fresh)); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.s.log.Warn("maildir: renaming a duplicate", "dir", m.dir, "name", name, "err", err)
		}
		return ent{}, false
	}
	m.s.log.Warn("maildir: a file in new/ had the base name of one in cur/; renamed to get its own UID",
		"dir", m.dir, "from", name, "to", fresh)
	if err := syncDir(dir); err != nil {
		m.s.log.Warn("maildir: renaming a duplicate", "dir", m.dir, "err", err)
	}
	fi := parseFileName(fresh)
	_, vs := sizesFromBase(fi.base)
	return ent{name: fresh, fi: fi, inNew: true, old: -1, mtime: noTime, vsize: vs}, true
}

// matchOld gives files of the view their UIDs; it reports whether some
// file has none.
func (m *Mailbox) matchOld(ls *listing) bool {
	for i := range m.recs {
		r := &m.recs[i]
		if j, ok := ls.byBase[string(m.names[r.nameOff:r.nameOff+uint32(r.baseLen)])]; ok {
			e := &ls.ents[j]
			e.old, e.uid = int32(i), r.uid
			if e.vsize < 0 {
				e.vsize = r.vsize
			}
			if e.mtime == noTime {
				e.mtime = r.mtime
			}
		}
	}
	unknown := false
	for i := range ls.ents {
		if ls.ents[i].uid == 0 {
			unknown = true
		}
	}
	return unknown
}

// matchUidlist takes every UID from ul, which is authoritative.
func (m *Mailbox) matchUidlist(ls *listing, ul *uidlist) {
	for i := range ls.ents {
		ls.ents[i].uid = 0
	}
	for _, r := range ul.recs {
		if j, ok := ls.byBase[r.base]; ok {
			e := &ls.ents[j]
			e.uid, e.ext = r.uid, r.ext
			if e.vsize < 0 {
				e.vsize = r.vsize()
			}
		}
	}
}

// syncLocked assigns UIDs to new files and rewrites the uidlist, under the
// dotlock, after reading the uidlist and the changed directories again.
// This is what one new file costs in a big folder: the uidlist is read,
// matched and written whole, because another process may have given UIDs
// since the view was taken, and a record the view lacks must keep its UID.
// (Dovecot appends records instead; a torn append would make the strict
// parser here rebuild the folder with a new UIDVALIDITY.)
func (m *Mailbox) syncLocked(prev *listing) (*listing, error) {
	lock, err := m.s.lockFolder(m.dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if uerr := lock.unlock(); uerr != nil {
			m.s.log.Warn("maildir: unlocking", "dir", m.dir, "err", uerr)
		}
	}()
	ls, err := m.scan(prev)
	if err != nil {
		return nil, err
	}
	if ls != prev {
		m.index(ls)
		m.matchOld(ls)
	}
	ulPath := filepath.Join(m.dir, uidlistName)
	// The stamp is taken before the read: if the file changes meanwhile,
	// the stamp is older than the content and the next Sync reads it again.
	ulAt := time.Now().UnixNano()
	ulSt := statStamp(ulPath)
	ul, _, err := readUidlistFile(ulPath)
	rewrite := false
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, errCorruptUidlist):
		if errors.Is(err, errCorruptUidlist) {
			m.s.log.Warn("maildir: rebuilding the uidlist with a new UIDVALIDITY", "dir", m.dir, "err", err)
		} else if m.validity != 0 || slices.ContainsFunc(ls.ents, func(e ent) bool { return !e.inNew }) {
			// Files in cur/ had UIDs once; only new/ files are what
			// deliveries leave before a folder's first open.
			m.s.log.Warn("maildir: uidlist missing, rebuilding with a new UIDVALIDITY", "dir", m.dir)
		}
		ul = &uidlist{validity: m.s.nextUIDValidity(m.addr, m.validity), next: 1, guid: newGUID()}
		rewrite = true
	default:
		return nil, fmt.Errorf("maildir: reading uidlist: %w", err)
	}
	m.matchUidlist(ls, ul)

	var fresh []int
	for i := range ls.ents {
		if ls.ents[i].uid == 0 {
			fresh = append(fresh, i)
		}
	}
	m.statEnts(ls, fresh)
	slices.SortFunc(fresh, func(a, b int) int {
		ea, eb := &ls.ents[a], &ls.ents[b]
		if ea.mtime != eb.mtime {
			if ea.mtime < eb.mtime {
				return -1
			}
			return 1
		}
		return strings.Compare(ea.name, eb.name)
	})
	for _, i := range fresh {
		if ul.next == 0 {
			return nil, fmt.Errorf("maildir: %s: UIDs exhausted", m.dir)
		}
		ls.ents[i].uid = ul.next
		if m.opening && (m.firstRecent == 0 || ul.next < m.firstRecent) {
			m.firstRecent = ul.next
		}
		ul.next++
		rewrite = true
	}
	for i := range ls.ents {
		e := &ls.ents[i]
		if e.vsize < 0 {
			if n, err := m.countVsize(e); err == nil {
				e.vsize = n
				rewrite = true
			}
		}
	}
	recs := make([]uidRec, 0, len(ls.ents))
	for i := range ls.ents {
		e := &ls.ents[i]
		r := uidRec{uid: e.uid, base: e.fi.base, ext: e.ext}
		if _, w := sizesFromBase(e.fi.base); w < 0 && e.vsize >= 0 && r.vsize() != e.vsize {
			r.setVsize(e.vsize)
		}
		recs = append(recs, r)
	}
	if ls.stable {
		rewrite = rewrite || len(recs) != len(ul.recs)
	} else {
		// Keep records of files a restless directory may have hidden.
		for _, r := range ul.recs {
			if _, ok := ls.byBase[r.base]; !ok {
				recs = append(recs, r)
			}
		}
	}
	slices.SortFunc(recs, func(a, b uidRec) int { return cmpUID(a.uid, b.uid) })
	ul.recs = recs
	if rewrite {
		err := writeFileAtomic(ulPath, 0o600, m.s.ownerOf(m.dir), ul.writeTo)
		if err != nil {
			return nil, err
		}
	}
	if m.validity != 0 && m.validity != ul.validity {
		ls.validityChanged = true // the old UIDs are void
	}
	m.validity, m.next, m.guid, m.hdrExtra = ul.validity, ul.next, ul.guid, ul.hdrExtra
	if rewrite {
		m.ulAt = time.Now().UnixNano()
		m.ulStamp = statStamp(ulPath)
	} else {
		m.ulStamp, m.ulAt = ulSt, ulAt
	}
	return ls, nil
}

func cmpUID(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// apply replaces the view with ls and returns the difference.
func (m *Mailbox) apply(ls *listing) Changes {
	var ch Changes
	ents := make([]ent, 0, len(ls.ents))
	for _, e := range ls.ents {
		if e.uid != 0 {
			ents = append(ents, e)
		}
	}
	if !ls.stable {
		// Messages missing from a restless directory stay as they were.
		for i := range m.recs {
			if _, ok := ls.byBase[m.baseOf(&m.recs[i])]; !ok {
				ents = append(ents, m.recEnt(i))
			}
		}
	}
	// Usually sorted already: the view's order plus a few new files.
	if !slices.IsSortedFunc(ents, func(a, b ent) int { return cmpUID(a.uid, b.uid) }) {
		slices.SortFunc(ents, func(a, b ent) int { return cmpUID(a.uid, b.uid) })
	}
	size := 0
	for i := range ents {
		size += len(ents[i].name)
	}
	recs := make([]msgRec, len(ents))
	names := make([]byte, 0, size)
	for i := range ents {
		e := &ents[i]
		recs[i] = msgRec{
			mtime: e.mtime, vsize: e.vsize, uid: e.uid, nameOff: uint32(len(names)),
			kw: e.fi.kw, nameLen: uint16(len(e.name)), baseLen: uint16(len(e.fi.base)),
			flags: e.fi.flags, inNew: e.inNew,
		}
		names = append(names, e.name...)
	}
	// Compare by UID.
	old := m.recs
	if ls.validityChanged {
		ch.UIDValidity = true
		for _, r := range old {
			ch.Expunged = append(ch.Expunged, r.uid)
		}
		old = nil
	}
	i, j := 0, 0
	for i < len(old) || j < len(recs) {
		switch {
		case j == len(recs) || (i < len(old) && old[i].uid < recs[j].uid):
			ch.Expunged = append(ch.Expunged, old[i].uid)
			i++
		case i == len(old) || recs[j].uid < old[i].uid:
			ch.New = append(ch.New, recs[j].uid)
			j++
		default:
			if old[i].flags != recs[j].flags || old[i].kw != recs[j].kw {
				ch.FlagsChanged = append(ch.FlagsChanged, recs[j].uid)
			}
			i++
			j++
		}
	}
	m.recs, m.names, m.garbage = recs, names, 0
	m.newDir, m.curDir, m.stable = ls.newDir, ls.curDir, ls.stable
	if len(ch.Expunged) > 0 {
		m.sumForget = true
	}
	for _, u := range recs {
		if u.uid >= m.next {
			m.next = u.uid + 1
		}
	}
	return ch
}

// moveNewToCur renames files of new/ into cur/ with an empty flag list,
// keeping their base names and so their UIDs. It reports whether it
// renamed anything.
func (m *Mailbox) moveNewToCur() bool {
	moved := false
	for i := range m.recs {
		r := &m.recs[i]
		if !r.inNew {
			continue
		}
		name := m.nameOf(r)
		dst := name
		if !strings.Contains(name, infoSep) {
			dst = name + infoSep
		}
		err := renameNoReplace(filepath.Join(m.dir, "new", name), filepath.Join(m.dir, "cur", dst))
		if errors.Is(err, os.ErrExist) {
			// Another file of that name appeared in cur/ since the
			// read: both stay, and the next Sync splits them.
			continue
		}
		if err == nil {
			m.setName(r, dst, false)
			moved = true
			if m.firstRecent == 0 || r.uid < m.firstRecent {
				m.firstRecent = r.uid
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			m.s.log.Warn("maildir: moving to cur/", "dir", m.dir, "name", name, "err", err)
		}
	}
	return moved
}

// renameNoReplace renames like os.Rename but never replaces an existing
// dst (os.ErrExist then), where the file system can promise that.
func renameNoReplace(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("maildir: %s: %w", dst, os.ErrExist)
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		// No RENAME_NOREPLACE here: the plain rename Dovecot uses too.
		return os.Rename(src, dst)
	}
	return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
}

// reloadKeywords re-reads dovecot-keywords when it changed.
func (m *Mailbox) reloadKeywords() {
	path := filepath.Join(m.dir, keywordsName)
	st := statStamp(path)
	if st == m.kwStamp {
		return
	}
	t, err := readKeywordsFile(path)
	if err != nil {
		m.s.log.Warn("maildir: reading keywords", "dir", m.dir, "err", err)
		return
	}
	m.kw, m.kwStamp = t, st
}

// statEnts fills in mtimes (and sizes) of the listed entries.
func (m *Mailbox) statEnts(ls *listing, idx []int) {
	for _, i := range idx {
		e := &ls.ents[i]
		if e.mtime != noTime {
			continue
		}
		sub := "cur"
		if e.inNew {
			sub = "new"
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(m.dir, sub, e.name), &st); err == nil {
			e.mtime = st.Mtim.Nano()
		} else {
			e.mtime = 0
		}
	}
}

// countVsize reads a file once to learn its CRLF size.
func (m *Mailbox) countVsize(e *ent) (int64, error) {
	sub := "cur"
	if e.inNew {
		sub = "new"
	}
	f, err := os.Open(filepath.Join(m.dir, sub, e.name))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return crlfSize(f)
}

// loadDates reads the mtimes still missing from the view, in parallel.
func (m *Mailbox) loadDates() {
	var todo []int
	for i := range m.recs {
		if m.recs[i].mtime == noTime {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return
	}
	curFD, err1 := unix.Open(filepath.Join(m.dir, "cur"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	newFD, err2 := unix.Open(filepath.Join(m.dir, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err1 == nil {
		defer unix.Close(curFD)
	}
	if err2 == nil {
		defer unix.Close(newFD)
	}
	workers := min(runtime.GOMAXPROCS(0), 8, len(todo)/256+1)
	var wg sync.WaitGroup
	chunk := (len(todo) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		part := todo[min(w*chunk, len(todo)):min((w+1)*chunk, len(todo))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st unix.Stat_t
			for _, i := range part {
				r := &m.recs[i]
				fd, ok := curFD, err1 == nil
				if r.inNew {
					fd, ok = newFD, err2 == nil
				}
				name := string(m.names[r.nameOff : r.nameOff+uint32(r.nameLen)])
				if ok && unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
					r.mtime = st.Mtim.Nano()
				} else if fi, err := os.Stat(m.findPathQuiet(r)); err == nil {
					r.mtime = fi.ModTime().UnixNano()
				} else {
					r.mtime = 0
				}
			}
		}()
	}
	wg.Wait()
}

// findPathQuiet is the message's current path, found again if it moved.
func (m *Mailbox) findPathQuiet(r *msgRec) string {
	p, err := m.findFile(m.baseOf(r))
	if err != nil {
		return m.pathOf(r)
	}
	return p
}

// readDirNames lists the visible files of dir (no dot files, no
// directories). It reads again while the directory's stamp changes during
// the read, at most four times; stable reports a read that did not race.
func readDirNames(dir string) (names []string, st stamp, stable bool, err error) {
	for try := 0; try < 4; try++ {
		before := statStamp(dir)
		names, err = getdentsNames(dir)
		if err != nil {
			return nil, stamp{}, false, err
		}
		st = statStamp(dir)
		if st == before {
			return names, st, true, nil
		}
	}
	return names, st, false, nil
}

// getdentsNames reads a directory with large getdents calls; the names
// share one string.
func getdentsNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("maildir: %s: %w", dir, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 256<<10)
	var all bytes.Buffer
	var ends []int
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("maildir: reading %s: %w", dir, err)
		}
		if n <= 0 {
			break
		}
		for off := 0; off+19 <= n; {
			reclen := int(buf[off+16]) | int(buf[off+17])<<8
			if reclen < 19 || off+reclen > n {
				return nil, fmt.Errorf("maildir: reading %s: bad directory entry", dir)
			}
			typ := buf[off+18]
			name := buf[off+19 : off+reclen]
			if k := bytes.IndexByte(name, 0); k >= 0 {
				name = name[:k]
			}
			off += reclen
			if len(name) == 0 || name[0] == '.' || typ == unix.DT_DIR {
				continue
			}
			all.Write(name)
			ends = append(ends, all.Len())
		}
	}
	s := all.String()
	names := make([]string, len(ends))
	start := 0
	for i, e := range ends {
		names[i] = s[start:e]
		start = e
	}
	return names, nil
}

const uidvalidityName = "dovecot-uidvalidity"

// nextUIDValidity hands out a UIDVALIDITY the way Dovecot does: the user's
// dovecot-uidvalidity holds the last one (8 hex digits); the next is that
// + 1, or the current time when there is none. An empty file named
// dovecot-uidvalidity.<hex>, created with O_EXCL, claims each value, so two
// processes never hand out the same one. The result is above floor.
func (s *Store) nextUIDValidity(addr string, floor uint32) uint32 {
	root, err := s.userRoot(addr)
	now := uint32(s.now().Unix())
	if err != nil {
		return max(now, floor+1)
	}
	var cur uint32
	if data, err := os.ReadFile(filepath.Join(root, uidvalidityName)); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 16, 32); err == nil {
			cur = uint32(v)
		}
	}
	first := cur
	for try := 0; try < 1000; try++ {
		next := cur + 1
		if cur == 0 {
			next = now
		}
		if next <= floor {
			next = floor + 1
		}
		if next == 0 {
			next = 1
		}
		claim := filepath.Join(root, fmt.Sprintf("%s.%08x", uidvalidityName, next))
		f, err := os.OpenFile(claim, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err != nil {
			if os.IsExist(err) {
				cur = next
				continue
			}
			return next
		}
		o := s.ownerOf(root)
		if err := o.fchown(f); err != nil {
			s.log.Warn("maildir: giving away "+claim, "err", err)
		}
		f.Close()
		werr := writeFileAtomic(filepath.Join(root, uidvalidityName), 0o600, o, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%08x", next)
			return err
		})
		if werr != nil {
			s.log.Warn("maildir: writing "+uidvalidityName, "err", werr)
		}
		if first != 0 {
			os.Remove(filepath.Join(root, fmt.Sprintf("%s.%08x", uidvalidityName, first)))
		}
		return next
	}
	return max(now, floor+1)
}
