package maildir

// The summary cache: a per-folder file of message summaries, so that
// FETCH ENVELOPE or BODYSTRUCTURE over a whole folder does not re-read
// every message. It is derived data: our own file, ignored by Dovecot,
// never trusted over the message files, and rebuilt when missing, stale or
// corrupt.
//
// File <folder dir>/maildird-cache, format version 4:
//
//	header   "maildird-cache 4\n"                 17 bytes
//	record*  length  uint32 little endian         bytes of payload
//	         crc     uint32 little endian         CRC-32C (Castagnoli) of payload
//	         payload uvarint len, base name       the message's base name (key)
//	                 varint size                  the file size Put was given
//	                 varint mtime                 its mtime, Unix nanoseconds
//	                 summary                      see encodeSummary
//
// Records are appended; a later record for the same base name replaces an
// earlier one. A record whose length or checksum is wrong ends the usable
// part of the file: what follows is ignored and the file is rewritten at
// the next Flush. A file with another header (another version) is ignored
// the same way. Rewrites (compaction) go through writeFileAtomic, so a
// reader sees the old file or the new one; an append that a crash cut
// short fails its checksum and is dropped. Appends are made under an
// exclusive flock on the file, so several caches for one folder, in this
// process or another, can share it.
//
// Memory: only an index (a hash of the base name -> file offset, some 40
// bytes a message) is kept in RAM, plus summaries Put since the last Flush
// (at most maxPendingCache bytes; more flush by themselves). Get reads the
// one record it needs from the file.
//
// Summary encoding (all integers varints, strings uvarint length + bytes,
// lists uvarint count + elements, params uvarint count + name/value
// string pairs in order):
//
//	summary  = flags headersize envelope bodypart
//	flags    = uvarint, bit 0: SubjectExact
//	headersize = varint, the message header's size (SEARCH reads it
//	           with the subject without decoding the rest)
//	envelope = date subject from sender replyto to cc bcc inreplyto messageid
//	           empty(uvarint)
//	address  = name route mailbox host
//	bodypart = type subtype params id description encoding size lines md5
//	           disposition dispositionparams language location
//	           rawtype rawsubtype rawencoding rawdisposition empty(uvarint)
//	           parts(list of bodypart) hasmessage(byte 0/1) [envelope bodypart]
//	           headersize offset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

const (
	summaryCacheName   = "maildird-cache"
	summaryCacheHeader = "maildird-cache 4\n"
	maxCacheRecord     = 4 << 20   // longer records are not cached, and mean corruption when read
	maxCacheKey        = 4096      // a longer base name in a record means corruption
	maxPendingCache    = 256 << 10 // unflushed record bytes that trigger a Flush from Put
	cacheCompactMin    = 256 << 10 // files smaller than this are not compacted for garbage alone
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errCacheCorrupt = errors.New("maildir: corrupt summary cache record")

// cacheLoc is where a record lives: in the file, or in the pending buffer.
type cacheLoc struct {
	off     int64
	n       uint32 // frame length: 8 + payload
	pending bool
}

// summaryCache is the summary cache of one folder. It is safe for
// concurrent use.
type summaryCache struct {
	mu      sync.Mutex
	path    string
	loaded  bool
	f       *os.File // the file the index describes; nil when there is none
	fileEnd int64    // end of the last good record in f
	index   map[uint64]cacheLoc
	live    int64  // frame bytes the index points to in f
	pending []byte // framed records not yet written
	dirty   bool   // the file must be rewritten: corrupt, forgotten entries
	buf     []byte
	owner   owner // who a new file belongs to (owner.go)
}

// openSummaryCache returns the cache of the folder in dir. Nothing is read
// until it is used; a missing or unreadable file is an empty cache.
func openSummaryCache(dir string) *summaryCache {
	return &summaryCache{path: filepath.Join(dir, summaryCacheName)}
}

// hashBase is 64-bit FNV-1a. A collision costs a miss, never a wrong
// answer: Get compares the base name stored in the record.
func hashBase[T string | []byte](base T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(base); i++ {
		h ^= uint64(base[i])
		h *= 1099511628211
	}
	return h
}

// Get returns the summary stored for the message file base, if it was
// stored for the same size and mtime and its record is intact.
func (c *summaryCache) Get(base string, size int64, mtime time.Time) (*Summary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	h := hashBase(base)
	loc, ok := c.index[h]
	if !ok {
		return nil, false
	}
	payload, err := c.readRecord(loc)
	if err != nil {
		c.drop(h, loc)
		return nil, false
	}
	d := sumDecoder{s: string(payload)}
	if d.str() != base || d.varint() != size || d.varint() != mtime.UnixNano() {
		return nil, false
	}
	s := d.summary()
	if d.bad || d.s != "" {
		c.drop(h, loc)
		return nil, false
	}
	return s, true
}

// GetSubject is Get for SEARCH SUBJECT: the subject alone, without
// decoding the rest of the summary.
func (c *summaryCache) GetSubject(base string, size int64, mtime time.Time) (SubjectInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	loc, ok := c.index[hashBase(base)]
	if !ok {
		return SubjectInfo{}, false
	}
	payload, err := c.readRecord(loc)
	if err != nil {
		return SubjectInfo{}, false
	}
	d := sumDecoder{s: string(payload)}
	if d.str() != base || d.varint() != size || d.varint() != mtime.UnixNano() {
		return SubjectInfo{}, false
	}
	si := d.subject()
	if d.bad {
		return SubjectInfo{}, false
	}
	return si, true
}

// Put stores s as the summary of the message file base with that size and
// mtime. It is written by the next Flush (or by Put itself once enough is
// pending). Errors are not reported: the cache is an optimisation.
func (c *summaryCache) Put(base string, size int64, mtime time.Time, s *Summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	start := len(c.pending)
	c.pending = append(c.pending, 0, 0, 0, 0, 0, 0, 0, 0) // frame, filled in below
	e := sumEncoder{b: c.pending}
	e.str(base)
	e.varint(size)
	e.varint(mtime.UnixNano())
	e.summary(s)
	c.pending = e.b
	n := len(c.pending) - start - 8
	if n > maxCacheRecord {
		c.pending = c.pending[:start]
		return
	}
	payload := c.pending[start+8:]
	binary.LittleEndian.PutUint32(c.pending[start:], uint32(n))
	binary.LittleEndian.PutUint32(c.pending[start+4:], crc32.Checksum(payload, castagnoli))
	h := hashBase(base)
	if old, ok := c.index[h]; ok && !old.pending {
		c.live -= int64(old.n)
	}
	c.index[h] = cacheLoc{off: int64(start), n: uint32(n + 8), pending: true}
	if len(c.pending) > maxPendingCache {
		if err := c.flush(); err != nil {
			c.discardPending()
		}
	}
}

// Forget drops the entries whose base name keep rejects (messages that
// are gone); the file is compacted at the next Flush.
func (c *summaryCache) Forget(keep func(base string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	for h, loc := range c.index {
		payload, err := c.readRecord(loc)
		if err != nil {
			c.drop(h, loc)
			continue
		}
		d := sumDecoder{s: string(payload)}
		if base := d.str(); d.bad || !keep(base) {
			c.drop(h, loc)
		}
	}
}

// Flush writes what was Put since the last Flush: appended to the file,
// or, when the file is missing, corrupt, replaced by another process or
// mostly garbage, by writing a new file atomically.
func (c *summaryCache) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	err := c.flush()
	if err != nil {
		c.discardPending()
	}
	return err
}

// Close releases the open file. The cache may be used again afterwards.
func (c *summaryCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	return nil
}

// reset forgets everything but the pending records' bytes, which it drops
// too; the next use loads the file again.
func (c *summaryCache) reset() {
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.fileEnd, c.index, c.live, c.pending, c.dirty, c.loaded = nil, 0, nil, 0, nil, false, false
}

// drop removes an entry; a bad or forgotten file record makes the file dirty.
func (c *summaryCache) drop(h uint64, loc cacheLoc) {
	delete(c.index, h)
	if !loc.pending {
		c.live -= int64(loc.n)
		c.dirty = true
	}
}

// discardPending forgets records that could not be written.
func (c *summaryCache) discardPending() {
	for h, loc := range c.index {
		if loc.pending {
			delete(c.index, h)
		}
	}
	c.pending = c.pending[:0]
}

// load reads the index from the file once.
func (c *summaryCache) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	c.index = make(map[uint64]cacheLoc)
	f, err := os.OpenFile(c.path, os.O_RDWR, 0)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.dirty = true
		}
		return
	}
	c.f = f
	c.scan(f, 0)
}

// scan adds the records of f from offset from (0: check the header first)
// to the index, sets fileEnd to the end of the last good one, and marks
// the cache dirty if anything after it is not a good record.
func (c *summaryCache) scan(f *os.File, from int64) {
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, 1<<62), 64<<10)
	off := from
	if from == 0 {
		hdr := make([]byte, len(summaryCacheHeader))
		if _, err := io.ReadFull(r, hdr); err != nil || string(hdr) != summaryCacheHeader {
			c.fileEnd = 0
			c.dirty = true
			return
		}
		off = int64(len(summaryCacheHeader))
	}
	var frame [8]byte
	for {
		c.fileEnd = off
		if _, err := io.ReadFull(r, frame[:]); err != nil {
			break
		}
		n := binary.LittleEndian.Uint32(frame[:4])
		if n == 0 || n > maxCacheRecord {
			break
		}
		c.buf = slices.Grow(c.buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, c.buf); err != nil {
			break
		}
		if crc32.Checksum(c.buf, castagnoli) != binary.LittleEndian.Uint32(frame[4:]) {
			break
		}
		klen, k := binary.Uvarint(c.buf)
		if k <= 0 || klen > maxCacheKey || uint64(len(c.buf)-k) < klen {
			break
		}
		h := hashBase(c.buf[k : k+int(klen)])
		if old, ok := c.index[h]; ok && !old.pending {
			c.live -= int64(old.n)
		}
		if old, ok := c.index[h]; !ok || !old.pending {
			c.index[h] = cacheLoc{off: off, n: n + 8}
			c.live += int64(n) + 8
		}
		off += int64(n) + 8
	}
	if size != c.fileEnd {
		c.dirty = true
	}
}

// readRecord returns the payload of the record at loc after checking its
// frame and checksum. The slice is valid until the next call.
func (c *summaryCache) readRecord(loc cacheLoc) ([]byte, error) {
	var frame []byte
	if loc.pending {
		if loc.off+int64(loc.n) > int64(len(c.pending)) {
			return nil, errCacheCorrupt
		}
		frame = c.pending[loc.off : loc.off+int64(loc.n)]
	} else {
		if c.f == nil {
			return nil, errCacheCorrupt
		}
		c.buf = slices.Grow(c.buf[:0], int(loc.n))[:loc.n]
		if _, err := c.f.ReadAt(c.buf, loc.off); err != nil {
			return nil, err
		}
		frame = c.buf
	}
	if len(frame) < 8 || binary.LittleEndian.Uint32(frame) != uint32(len(frame)-8) ||
		crc32.Checksum(frame[8:], castagnoli) != binary.LittleEndian.Uint32(frame[4:]) {
		return nil, errCacheCorrupt
	}
	return frame[8:], nil
}

// flush writes the pending records. The caller holds c.mu.
func (c *summaryCache) flush() error {
	for tries := 0; ; tries++ {
		if len(c.pending) == 0 && !c.dirty {
			return nil
		}
		if c.f == nil || c.dirty || tries > 2 {
			return c.compact()
		}
		switched, err := c.appendPending()
		if !switched {
			return err
		}
	}
}

// appendPending appends the pending records to the file under its flock.
// If another cache replaced the file meanwhile, it switches to the new
// file (keeping the pending records) and reports switched, without writing.
func (c *summaryCache) appendPending() (switched bool, err error) {
	if err := flock(c.f, syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("maildir: locking %s: %w", c.path, err)
	}
	defer flock(c.f, syscall.LOCK_UN)
	cur, err := os.Stat(c.path)
	mine, err2 := c.f.Stat()
	if err != nil || err2 != nil || !os.SameFile(cur, mine) {
		c.switchFile()
		return true, nil
	}
	if mine.Size() != c.fileEnd {
		// Another cache appended: learn its records.
		c.scan(c.f, c.fileEnd)
		if c.dirty {
			return false, c.compact()
		}
	}
	if len(c.pending) == 0 {
		return false, nil
	}
	if _, err := c.f.WriteAt(c.pending, c.fileEnd); err != nil {
		c.dirty = true // a partial record may be there now
		return false, fmt.Errorf("maildir: appending to %s: %w", c.path, err)
	}
	for h, loc := range c.index {
		if loc.pending {
			c.index[h] = cacheLoc{off: c.fileEnd + loc.off, n: loc.n}
			c.live += int64(loc.n)
		}
	}
	c.fileEnd += int64(len(c.pending))
	c.pending = c.pending[:0]
	if garbage := c.fileEnd - int64(len(summaryCacheHeader)) - c.live; garbage > c.live && c.fileEnd > cacheCompactMin {
		return false, c.compact()
	}
	return false, nil
}

// switchFile drops the index of the current file and loads the one now at
// the path, keeping the pending records.
func (c *summaryCache) switchFile() {
	pending := make(map[uint64]cacheLoc)
	for h, loc := range c.index {
		if loc.pending {
			pending[h] = loc
		}
	}
	old := c.f
	c.f, c.fileEnd, c.live, c.dirty, c.index = nil, 0, 0, false, pending
	if f, err := os.OpenFile(c.path, os.O_RDWR, 0); err == nil {
		c.f = f
		c.scan(f, 0)
	}
	// Closing releases the flock on the old file as well.
	old.Close()
}

// compact writes a new file with every record the index points to, through
// writeFileAtomic, and switches to it. Records are copied one at a time.
func (c *summaryCache) compact() error {
	if c.f != nil {
		// Keep other caches from appending to the file being replaced.
		if err := flock(c.f, syscall.LOCK_EX); err == nil {
			defer flock(c.f, syscall.LOCK_UN)
		}
		// Keep what other caches appended since we last looked.
		cur, err := os.Stat(c.path)
		mine, err2 := c.f.Stat()
		if err == nil && err2 == nil && os.SameFile(cur, mine) && mine.Size() > c.fileEnd && c.fileEnd > 0 {
			c.scan(c.f, c.fileEnd)
		}
	}
	type entry struct {
		h   uint64
		loc cacheLoc
	}
	entries := make([]entry, 0, len(c.index))
	for h, loc := range c.index {
		entries = append(entries, entry{h, loc})
	}
	// File records in file order, then pending ones in the order Put.
	slices.SortFunc(entries, func(a, b entry) int {
		if a.loc.pending != b.loc.pending {
			if a.loc.pending {
				return 1
			}
			return -1
		}
		return int(a.loc.off - b.loc.off)
	})
	newIndex := make(map[uint64]cacheLoc, len(entries))
	var live int64
	off := int64(len(summaryCacheHeader))
	err := writeFileAtomic(c.path, 0o600, c.owner, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		if _, err := bw.WriteString(summaryCacheHeader); err != nil {
			return err
		}
		for _, e := range entries {
			payload, err := c.readRecord(e.loc)
			if err != nil {
				continue // a bad record is left out
			}
			var frame [8]byte
			binary.LittleEndian.PutUint32(frame[:4], uint32(len(payload)))
			binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(payload, castagnoli))
			bw.Write(frame[:])
			if _, err := bw.Write(payload); err != nil {
				return err
			}
			newIndex[e.h] = cacheLoc{off: off, n: e.loc.n}
			off += int64(e.loc.n)
			live += int64(e.loc.n)
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(c.path, os.O_RDWR, 0)
	if err != nil {
		c.reset()
		return fmt.Errorf("maildir: %w", err)
	}
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.fileEnd, c.index, c.live, c.dirty = f, off, newIndex, live, false
	c.pending = c.pending[:0]
	return nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// sumEncoder appends the binary encoding of summaries.
type sumEncoder struct{ b []byte }

func (e *sumEncoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *sumEncoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *sumEncoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *sumEncoder) params(list []Param) {
	e.uvarint(uint64(len(list)))
	for _, p := range list {
		e.str(p.Name)
		e.str(p.Value)
	}
}

func (e *sumEncoder) addresses(list []Address) {
	e.uvarint(uint64(len(list)))
	for _, a := range list {
		e.str(a.Name)
		e.str(a.Route)
		e.str(a.Mailbox)
		e.str(a.Host)
	}
}

func (e *sumEncoder) envelope(v *Envelope) {
	e.str(v.Date)
	e.str(v.Subject)
	for _, l := range [][]Address{v.From, v.Sender, v.ReplyTo, v.To, v.Cc, v.Bcc} {
		e.addresses(l)
	}
	e.str(v.InReplyTo)
	e.str(v.MessageID)
	e.uvarint(uint64(v.Empty))
}

func (e *sumEncoder) bodyPart(p *BodyPart) {
	e.str(p.Type)
	e.str(p.Subtype)
	e.params(p.Params)
	e.str(p.ID)
	e.str(p.Description)
	e.str(p.Encoding)
	e.varint(p.Size)
	e.varint(p.Lines)
	e.str(p.MD5)
	e.str(p.Disposition)
	e.params(p.DispositionParams)
	e.uvarint(uint64(len(p.Language)))
	for _, l := range p.Language {
		e.str(l)
	}
	e.str(p.Location)
	e.str(p.RawType)
	e.str(p.RawSubtype)
	e.str(p.RawEncoding)
	e.str(p.RawDisposition)
	e.uvarint(uint64(p.Empty))
	e.uvarint(uint64(len(p.Parts)))
	for i := range p.Parts {
		e.bodyPart(&p.Parts[i])
	}
	if p.Message != nil {
		e.b = append(e.b, 1)
		env := p.Envelope
		if env == nil {
			env = &Envelope{}
		}
		e.envelope(env)
		e.bodyPart(p.Message)
	} else {
		e.b = append(e.b, 0)
	}
	e.varint(p.HeaderSize)
	e.varint(p.Offset)
}

func (e *sumEncoder) summary(s *Summary) {
	var flags uint64
	if s.SubjectExact {
		flags |= 1
	}
	e.uvarint(flags)
	e.varint(s.HeaderSize)
	e.envelope(&s.Envelope)
	e.bodyPart(&s.Body)
}

// subject decodes only what SEARCH SUBJECT needs.
func (d *sumDecoder) subject() SubjectInfo {
	var si SubjectInfo
	si.Exact = d.flags()&1 != 0
	si.HeaderSize = d.varint()
	d.str() // date
	si.Subject = d.str()
	return si
}

// sumDecoder reads the encoding back. Strings share the memory of s. Any
// inconsistency sets bad; the decoder never panics on bad input.
type sumDecoder struct {
	s     string
	bad   bool
	depth int
}

func (d *sumDecoder) uvarint() uint64 {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if i >= len(d.s) {
			break
		}
		b := d.s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			d.s = d.s[i+1:]
			return v | uint64(b)<<(7*i)
		}
		v |= uint64(b&0x7f) << (7 * i)
	}
	d.bad = true
	d.s = ""
	return 0
}

func (d *sumDecoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// count reads a list length; every element takes at least one byte.
func (d *sumDecoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.bad = true
		d.s = ""
		return 0
	}
	return int(n)
}

func (d *sumDecoder) str() string {
	n := d.count()
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *sumDecoder) params() []Param {
	n := d.count()
	if n == 0 {
		return nil
	}
	list := make([]Param, 0, min(n, len(d.s)/2))
	for i := 0; i < n && !d.bad; i++ {
		list = append(list, Param{Name: d.str(), Value: d.str()})
	}
	return list
}

func (d *sumDecoder) addresses() []Address {
	n := d.count()
	if n == 0 {
		return nil
	}
	list := make([]Address, 0, min(n, len(d.s)/4))
	for i := 0; i < n && !d.bad; i++ {
		list = append(list, Address{Name: d.str(), Route: d.str(), Mailbox: d.str(), Host: d.str()})
	}
	return list
}

func (d *sumDecoder) envelope(v *Envelope) {
	v.Date = d.str()
	v.Subject = d.str()
	for _, l := range []*[]Address{&v.From, &v.Sender, &v.ReplyTo, &v.To, &v.Cc, &v.Bcc} {
		*l = d.addresses()
	}
	v.InReplyTo = d.str()
	v.MessageID = d.str()
	v.Empty = d.fields()
}

// fields reads a Fields set; unknown bits mean corruption.
func (d *sumDecoder) fields() Fields {
	f := d.uvarint()
	if f >= uint64(FieldLocation)<<1 {
		d.bad = true
		d.s = ""
		return 0
	}
	return Fields(f)
}

func (d *sumDecoder) bodyPart(p *BodyPart) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > 2*maxMIMEDepth+2 {
		d.bad = true
		d.s = ""
		return
	}
	p.Type = d.str()
	p.Subtype = d.str()
	p.Params = d.params()
	p.ID = d.str()
	p.Description = d.str()
	p.Encoding = d.str()
	p.Size = d.varint()
	p.Lines = d.varint()
	p.MD5 = d.str()
	p.Disposition = d.str()
	p.DispositionParams = d.params()
	if n := d.count(); n > 0 {
		for i := 0; i < n && !d.bad; i++ {
			p.Language = append(p.Language, d.str())
		}
	}
	p.Location = d.str()
	p.RawType = d.str()
	p.RawSubtype = d.str()
	p.RawEncoding = d.str()
	p.RawDisposition = d.str()
	p.Empty = d.fields()
	if n := d.count(); n > 0 {
		// Each encoded part takes at least minPartBytes.
		if n > maxMIMEParts || n*minPartBytes > len(d.s) {
			d.bad = true
			d.s = ""
			return
		}
		p.Parts = make([]BodyPart, n)
		for i := 0; i < n && !d.bad; i++ {
			d.bodyPart(&p.Parts[i])
		}
	}
	if d.s != "" && d.s[0] == 1 {
		d.s = d.s[1:]
		p.Envelope = &Envelope{}
		d.envelope(p.Envelope)
		p.Message = &BodyPart{}
		d.bodyPart(p.Message)
	} else if d.s != "" && d.s[0] == 0 {
		d.s = d.s[1:]
	} else {
		d.bad = true
		d.s = ""
	}
	p.HeaderSize = d.varint()
	p.Offset = d.varint()
}

// flags reads the summary's flag bits; unknown bits mean corruption.
func (d *sumDecoder) flags() uint64 {
	f := d.uvarint()
	if f > 1 {
		d.bad = true
		d.s = ""
	}
	return f
}

// minPartBytes is the smallest encoding of a bodypart: 22 fields of at
// least one byte.
const minPartBytes = 22

func (d *sumDecoder) summary() *Summary {
	s := &Summary{}
	s.SubjectExact = d.flags()&1 != 0
	d.varint() // the header size again, kept for subject()
	d.envelope(&s.Envelope)
	d.bodyPart(&s.Body)
	s.HeaderSize = s.Body.HeaderSize
	s.BodySize = s.Body.Size
	return s
}
