package maildir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Message is one message of a Mailbox view.
type Message struct {
	UID      uint32
	Flags    Flag
	Keywords []string  // keyword names, in letter order; shared, do not modify
	Size     int64     // RFC822.SIZE: the size with CRLF line ends
	Date     time.Time // INTERNALDATE: the file's mtime
	Base     string    // the file name without ":2,<flags>"
}

// Changes is what a Sync found changed since the previous one, each list in
// ascending UID order. Changes made through the Mailbox itself (its
// StoreFlags and Expunge) are already in its view and not repeated; new
// messages, also its own Append and copies into itself, arrive through Sync.
type Changes struct {
	Expunged     []uint32
	New          []uint32
	FlagsChanged []uint32
	// UIDValidity is set when the folder's UIDVALIDITY changed (a lost or
	// corrupt uidlist was rebuilt): every UID seen before is void, and
	// Expunged and New list the old and the new view whole.
	UIDValidity bool
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Expunged) == 0 && len(c.New) == 0 && len(c.FlagsChanged) == 0 && !c.UIDValidity
}

// noTime marks a message whose mtime has not been read yet.
const noTime = math.MinInt64

// msgRec is the compact form of a message in a view (40 bytes); its file
// name lives in Mailbox.names.
type msgRec struct {
	mtime   int64 // Unix nanoseconds, or noTime
	vsize   int64 // CRLF size, -1 unknown
	uid     uint32
	nameOff uint32
	kw      uint32 // keyword letters
	nameLen uint16
	baseLen uint16
	flags   Flag
	inNew   bool
}

// stamp identifies one version of a file or directory.
type stamp struct {
	ino   uint64
	size  int64
	mtime int64
}

func statStamp(path string) stamp {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{ino: inode(st), size: st.Size(), mtime: st.ModTime().UnixNano()}
}

// dirState remembers when a directory was last read.
type dirState struct {
	st     stamp
	scanAt int64 // time.Now before the read, Unix nanoseconds
}

// dirty reports whether the directory must be read again: it changed, or
// it changed within a second before the last read, when a later change
// could carry the same mtime on a coarse file system.
func (d dirState) dirty(now stamp) bool {
	return d.scanAt == 0 || now != d.st || now.mtime+int64(time.Second) > d.scanAt
}

// Mailbox is one session's view of a folder. Its methods must not be called
// from two goroutines at once, except Wait, which may run while another
// goroutine uses the Mailbox.
type Mailbox struct {
	s        *Store
	addr     string
	folder   string
	dir      string
	readOnly bool

	mu        sync.Mutex // guards closed, watch, noWatch, seen
	closed    bool
	done      chan struct{} // closed by Close
	notify    chan struct{} // in-process wake-ups, capacity 1
	watch     *watcher
	noWatch   bool         // inotify failed: poll
	seen      folderStamps // what the view reflects, for Wait
	pollEvery time.Duration

	validity uint32
	next     uint32
	guid     string
	hdrExtra string

	recs    []msgRec // ascending UID
	names   []byte   // file names of recs
	garbage int      // bytes of names no longer used

	kw      keywordTable
	kwStamp stamp
	ulStamp stamp
	ulAt    int64 // time.Now before ulStamp was taken, Unix nanoseconds
	newDir  dirState
	curDir  dirState
	stable  bool       // the last directory read was not disturbed
	indexed indexState // what maildird-index on disk describes, as far as known

	// firstRecent is the lowest UID this view moved from new/ to cur/,
	// or gave out, when it opened (0: none); opening marks that sync.
	firstRecent uint32
	opening     bool

	sum       *summaryCache // opened by the first Summary call
	sumForget bool          // messages left the view: prune the cache on Close
}

// OpenMailbox opens a folder of a user for reading and writing: files in
// new/ move to cur/, as Dovecot does on SELECT. ErrNoSuchFolder when the
// folder does not exist; INBOX is created on first use.
func (s *Store) OpenMailbox(addr, folder string) (*Mailbox, error) {
	return s.openMailbox(addr, folder, false)
}

// OpenMailboxReadOnly opens a folder for EXAMINE and STATUS: new files get
// UIDs, as with OpenMailbox, but stay in new/.
func (s *Store) OpenMailboxReadOnly(addr, folder string) (*Mailbox, error) {
	return s.openMailbox(addr, folder, true)
}

func (s *Store) openMailbox(addr, folder string, readOnly bool) (*Mailbox, error) {
	dir, err := s.mailboxDir(addr, folder)
	if err != nil {
		return nil, err
	}
	m := &Mailbox{
		s: s, addr: addr, folder: folder, dir: dir, readOnly: readOnly,
		notify: make(chan struct{}, 1), done: make(chan struct{}), pollEvery: defaultPollInterval,
	}
	if !readOnly {
		m.sweepTmp()
	}
	m.loadIndex()
	m.opening = true
	_, err = m.sync()
	m.opening = false
	if err != nil {
		return nil, err
	}
	// Like Dovecot's SELECT; the index then waits for the next Sync, since
	// the renames changed both directories.
	if readOnly || !m.moveNewToCur() {
		m.maybeWriteIndex()
	}
	s.live.add(dir, m)
	return m, nil
}

// mailboxDir resolves and checks a folder's directory; INBOX is created.
func (s *Store) mailboxDir(addr, folder string) (string, error) {
	if folder == "" {
		folder = inboxName
	}
	dir, err := s.folderDir(addr, folder)
	if err != nil {
		return "", err
	}
	root, err := s.userRoot(addr)
	if err != nil {
		return "", err
	}
	if dir == root {
		if _, err := s.ensureUserRoot(addr); err != nil {
			return "", err
		}
		return dir, nil
	}
	if st, err := os.Stat(filepath.Join(dir, "cur")); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%w: %s", ErrNoSuchFolder, folder)
	}
	return dir, nil
}

// Close releases the Mailbox; later calls return ErrClosed.
func (m *Mailbox) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	w := m.watch
	m.watch = nil
	m.mu.Unlock()
	m.s.live.remove(m.dir, m)
	if w != nil {
		w.close()
	}
	// The cache is derived data: failing to write it loses no mail.
	if err := m.closeSummaries(); err != nil {
		m.s.log.Warn("maildir: writing the summary cache", "dir", m.dir, "err", err)
	}
	return nil
}

func (m *Mailbox) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// wake is the in-process notification; it never blocks.
func (m *Mailbox) wake() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// UIDValidity is the folder's UIDVALIDITY.
func (m *Mailbox) UIDValidity() uint32 { return m.validity }

// UIDNext is the UID the next new message will get, at least.
func (m *Mailbox) UIDNext() uint32 { return m.next }

// Len is the number of messages in the view.
func (m *Mailbox) Len() int { return len(m.recs) }

// FirstRecent is the lowest UID of the messages this Mailbox found in
// new/ and moved to cur/, or gave a UID to, when it opened, 0 when there
// were none: IMAP's \Recent for the first session that selects the
// folder, as Dovecot decides it on SELECT (a message is \Recent for the
// process that first records it).
func (m *Mailbox) FirstRecent() uint32 { return m.firstRecent }

// Keywords lists every keyword defined for the folder.
func (m *Mailbox) Keywords() []string {
	var out []string
	for _, n := range m.kw.names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Messages returns the view as of the last Sync, in ascending UID order.
// It is built on each call; Len, At and Index avoid the copy.
func (m *Mailbox) Messages() []Message {
	m.loadDates()
	out := make([]Message, len(m.recs))
	for i := range m.recs {
		out[i] = m.message(i)
	}
	return out
}

// At returns message i (0-based, ascending UID) of the view.
func (m *Mailbox) At(i int) Message {
	if m.recs[i].mtime == noTime {
		m.loadDates()
	}
	return m.message(i)
}

// Index returns the position of uid in the view.
func (m *Mailbox) Index(uid uint32) (int, bool) {
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].uid >= uid })
	return i, i < len(m.recs) && m.recs[i].uid == uid
}

func (m *Mailbox) message(i int) Message {
	r := &m.recs[i]
	msg := Message{
		UID:      r.uid,
		Flags:    r.flags,
		Keywords: m.kw.list(r.kw),
		Size:     r.vsize,
		Base:     string(m.names[r.nameOff : r.nameOff+uint32(r.baseLen)]),
	}
	if r.mtime != noTime {
		msg.Date = time.Unix(0, r.mtime)
	}
	return msg
}

func (m *Mailbox) nameOf(r *msgRec) string {
	return string(m.names[r.nameOff : r.nameOff+uint32(r.nameLen)])
}

func (m *Mailbox) baseOf(r *msgRec) string {
	return string(m.names[r.nameOff : r.nameOff+uint32(r.baseLen)])
}

func (m *Mailbox) pathOf(r *msgRec) string {
	sub := "cur"
	if r.inNew {
		sub = "new"
	}
	return filepath.Join(m.dir, sub, m.nameOf(r))
}

// setName points r at a new file name.
func (m *Mailbox) setName(r *msgRec, name string, inNew bool) {
	m.garbage += int(r.nameLen)
	r.nameOff = uint32(len(m.names))
	r.nameLen = uint16(len(name))
	r.inNew = inNew
	m.names = append(m.names, name...)
	if m.garbage > len(m.names)/2 && m.garbage > 4096 {
		m.compactNames()
	}
}

func (m *Mailbox) compactNames() {
	size := 0
	for i := range m.recs {
		size += int(m.recs[i].nameLen)
	}
	nb := make([]byte, 0, size)
	for i := range m.recs {
		r := &m.recs[i]
		off := len(nb)
		nb = append(nb, m.names[r.nameOff:r.nameOff+uint32(r.nameLen)]...)
		r.nameOff = uint32(off)
	}
	m.names, m.garbage = nb, 0
}

// Open returns the message's content with CRLF line ends, streamed.
func (m *Mailbox) Open(uid uint32) (io.ReadCloser, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	i, ok := m.Index(uid)
	if !ok {
		return nil, fmt.Errorf("%w: UID %d", ErrNoSuchMessage, uid)
	}
	f, err := m.openFile(&m.recs[i])
	if err != nil {
		return nil, err
	}
	return &messageReader{crlfReader: newCRLFReader(bufio.NewReaderSize(f, 32<<10)), f: f}, nil
}

// openFile opens a message's file; when another session renamed it (a flag
// change), the file is looked up again by its base name.
func (m *Mailbox) openFile(r *msgRec) (*os.File, error) {
	f, err := os.Open(m.pathOf(r))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	path, err := m.findFile(m.baseOf(r))
	if err != nil {
		return nil, err
	}
	return os.Open(path)
}

// findFile looks for the current name of the message with base name base
// in cur/ and new/.
func (m *Mailbox) findFile(base string) (string, error) {
	for _, sub := range []string{"cur", "new"} {
		names, _, _, err := readDirNames(filepath.Join(m.dir, sub))
		if err != nil {
			return "", err
		}
		for _, n := range names {
			if parseFileName(n).base == base {
				return filepath.Join(m.dir, sub, n), nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNoSuchMessage, base)
}

type messageReader struct {
	*crlfReader
	f *os.File
}

func (r *messageReader) Close() error { return r.f.Close() }
