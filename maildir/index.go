package maildir

// The view index: a derived copy of a folder's view (UIDs and file names),
// so that re-opening a big unchanged folder costs one file read instead of
// reading cur/ and the uidlist and matching the two.
//
// File <folder dir>/maildird-index (our own file; Dovecot ignores it),
// little endian, written whole with writeFileAtomic:
//
//	magic      "maildird-index 2\n"             17 bytes, the 2 is the version
//	new/       ino u64, size i64, mtime i64, scanAt i64
//	cur/       ino u64, size i64, mtime i64, scanAt i64
//	uidlist    ino u64, size i64, mtime i64, readAt i64
//	validity   u32
//	next       u32
//	guid       uvarint length, bytes
//	hdrExtra   uvarint length, bytes
//	count      uvarint, then count records:
//	           uvarint UID minus the previous UID (ascending, > 0)
//	           uvarint vsize + 1 (0: unknown)
//	           byte 1 when the file is in new/, else 0
//	           varint mtime, Unix nanoseconds (INTERNALDATE; the
//	           smallest int64 when unknown)
//	           uvarint length, the file name
//	crc        u32, CRC-32C of everything before it
//
// The index is never trusted over the files. It is used only when the
// stamps (inode, size, mtime in nanoseconds) of new/, cur/ and
// dovecot-uidlist are exactly those it recorded, and each of those mtimes
// was more than a second older than the moment the directory was read (or
// the uidlist stat'ed) to build it: a change made within the same second
// as the read could carry the very same mtime on a file system with coarse
// timestamps, and an inode number can be reused, so only a stamp that was
// already old when it was read proves that nothing changed since. Any
// mismatch, a bad checksum or any record that does not parse makes the
// folder be read from its directories as if there were no index; the index
// is then written again once a Sync finds the folder settled.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	indexName  = "maildird-index"
	indexMagic = "maildird-index 2\n"
	// defaultIndexMin is the smallest folder that gets an index: below
	// it, reading cur/ costs less than an fsync'd file per change.
	defaultIndexMin = 1000
	// maxIndexSize bounds what is read, like maxUidlistSize.
	maxIndexSize = 200 << 20
)

// indexState is what an index on disk describes; equal states mean the
// file need not be written again.
type indexState struct {
	newDir, curDir dirState
	ul             stamp
	ulAt           int64
}

// settled reports whether a view taken at this state could be re-used
// later: every stamp was more than a second old when it was read.
func (st indexState) settled() bool {
	if st.newDir.scanAt == 0 || st.curDir.scanAt == 0 || st.ul == (stamp{}) {
		return false
	}
	return !st.newDir.dirty(st.newDir.st) && !st.curDir.dirty(st.curDir.st) &&
		st.ul.mtime+int64(time.Second) <= st.ulAt
}

// loadIndex fills the view from the index when the index is valid for the
// folder as it is now, and reports whether it did.
func (m *Mailbox) loadIndex() bool {
	path := filepath.Join(m.dir, indexName)
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() > maxIndexSize || fi.Size() < int64(len(indexMagic))+4 {
		return false
	}
	// The stamps come first: compare them before reading the rest.
	head := make([]byte, len(indexMagic)+3*32)
	if _, err := io.ReadFull(f, head); err != nil || string(head[:len(indexMagic)]) != indexMagic {
		return false
	}
	var st indexState
	b := head[len(indexMagic):]
	readStamp := func() (stamp, int64) {
		s := stamp{ino: binary.LittleEndian.Uint64(b), size: int64(binary.LittleEndian.Uint64(b[8:])), mtime: int64(binary.LittleEndian.Uint64(b[16:]))}
		at := int64(binary.LittleEndian.Uint64(b[24:]))
		b = b[32:]
		return s, at
	}
	st.newDir.st, st.newDir.scanAt = readStamp()
	st.curDir.st, st.curDir.scanAt = readStamp()
	st.ul, st.ulAt = readStamp()
	if !st.settled() ||
		statStamp(filepath.Join(m.dir, "new")) != st.newDir.st ||
		statStamp(filepath.Join(m.dir, "cur")) != st.curDir.st ||
		statStamp(filepath.Join(m.dir, uidlistName)) != st.ul {
		return false
	}
	data := make([]byte, fi.Size())
	copy(data, head)
	if _, err := io.ReadFull(f, data[len(head):]); err != nil {
		return false
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		m.s.log.Warn("maildir: ignoring a corrupt index", "dir", m.dir)
		return false
	}
	if !m.decodeIndex(string(body[len(head):])) {
		m.s.log.Warn("maildir: ignoring an index that does not parse", "dir", m.dir)
		return false
	}
	m.newDir, m.curDir, m.ulStamp, m.ulAt = st.newDir, st.curDir, st.ul, st.ulAt
	m.stable = true
	m.indexed = st
	return true
}

// decodeIndex reads the part of the index after the stamps into the view.
// It changes nothing when the data does not parse.
func (m *Mailbox) decodeIndex(s string) bool {
	d := sumDecoder{s: s}
	if len(d.s) < 8 {
		return false
	}
	validity := binary.LittleEndian.Uint32([]byte(d.s[:4]))
	next := binary.LittleEndian.Uint32([]byte(d.s[4:8]))
	d.s = d.s[8:]
	guid := strings.Clone(d.str())
	hdrExtra := strings.Clone(d.str())
	n := d.uvarint()
	if d.bad || validity == 0 || n > uint64(len(d.s))/4 {
		return false
	}
	recs := make([]msgRec, n)
	names := make([]byte, 0, len(d.s)-int(n)*3)
	var uid uint32
	for i := range recs {
		delta := d.uvarint()
		vs := d.uvarint()
		if d.bad || delta == 0 || delta > uint64(^uint32(0)-uid) || vs > 1<<62 || d.s == "" || d.s[0] > 1 {
			return false
		}
		inNew := d.s[0] == 1
		d.s = d.s[1:]
		mtime := d.varint()
		name := d.str()
		if d.bad || len(name) > 0xffff {
			return false
		}
		fi := parseFileName(name)
		if !validBase(fi.base) {
			return false
		}
		uid += uint32(delta)
		recs[i] = msgRec{
			mtime: mtime, vsize: int64(vs) - 1, uid: uid, nameOff: uint32(len(names)),
			kw: fi.kw, nameLen: uint16(len(name)), baseLen: uint16(len(fi.base)),
			flags: fi.flags, inNew: inNew,
		}
		names = append(names, name...)
	}
	if d.s != "" || uid >= next && next != 0 {
		return false
	}
	if cap(names)-len(names) > len(names)/16 {
		// The capacity was guessed from the record sizes: a view of a
		// big folder stays for the session, so it keeps no slack.
		names = slices.Clone(names)
	}
	m.validity, m.next, m.guid, m.hdrExtra = validity, next, guid, hdrExtra
	m.recs, m.names, m.garbage = recs, names, 0
	return true
}

// maybeWriteIndex writes the index when the view is settled (see
// indexState.settled), complete (the last read of the directories was
// stable), big enough to be worth it, and not on disk already. Failures
// only cost the next open a directory read.
func (m *Mailbox) maybeWriteIndex() {
	st := indexState{newDir: m.newDir, curDir: m.curDir, ul: m.ulStamp, ulAt: m.ulAt}
	if len(m.recs) < m.s.indexMin || !m.stable || m.validity == 0 || st == m.indexed || !st.settled() {
		return
	}
	// The dates go into the index too, so that a warm open does not
	// stat every file again for INTERNALDATE (only the files new since
	// the last index are stat'ed here).
	m.loadDates()
	err := writeFileAtomic(filepath.Join(m.dir, indexName), 0o600, m.s.ownerOf(m.dir), func(w io.Writer) error {
		crc := crc32.New(castagnoli)
		bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)
		b := make([]byte, 0, 256)
		b = append(b, indexMagic...)
		for _, s := range []struct {
			st stamp
			at int64
		}{{st.newDir.st, st.newDir.scanAt}, {st.curDir.st, st.curDir.scanAt}, {st.ul, st.ulAt}} {
			b = binary.LittleEndian.AppendUint64(b, s.st.ino)
			b = binary.LittleEndian.AppendUint64(b, uint64(s.st.size))
			b = binary.LittleEndian.AppendUint64(b, uint64(s.st.mtime))
			b = binary.LittleEndian.AppendUint64(b, uint64(s.at))
		}
		b = binary.LittleEndian.AppendUint32(b, m.validity)
		b = binary.LittleEndian.AppendUint32(b, m.next)
		b = binary.AppendUvarint(b, uint64(len(m.guid)))
		b = append(b, m.guid...)
		b = binary.AppendUvarint(b, uint64(len(m.hdrExtra)))
		b = append(b, m.hdrExtra...)
		b = binary.AppendUvarint(b, uint64(len(m.recs)))
		bw.Write(b)
		var prev uint32
		for i := range m.recs {
			r := &m.recs[i]
			b = binary.AppendUvarint(b[:0], uint64(r.uid-prev))
			b = binary.AppendUvarint(b, uint64(max(r.vsize+1, 0)))
			if r.inNew {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			b = binary.AppendVarint(b, r.mtime)
			b = binary.AppendUvarint(b, uint64(r.nameLen))
			b = append(b, m.names[r.nameOff:r.nameOff+uint32(r.nameLen)]...)
			bw.Write(b)
			prev = r.uid
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
		return err
	})
	if err != nil {
		if !errors.Is(err, os.ErrPermission) {
			m.s.log.Warn("maildir: writing the index", "dir", m.dir, "err", err)
		}
		return
	}
	m.indexed = st
}
