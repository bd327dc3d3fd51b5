package maildir

// Summaries of a Mailbox's messages, through the folder's summary cache
// (summarycache.go). The cache is opened on the first Summary call and
// filled lazily: a message is parsed the first time any session asks for
// it and then read from maildird-cache by every later session, for as long
// as the file keeps its base name (flag changes keep it), size and mtime.
// Pending entries are written when there are many (Put flushes by itself)
// and when the Mailbox closes; entries of messages that left the folder
// are dropped then as well, so the file does not grow with expunged mail.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Summary returns the envelope and body structure of the message uid.
func (m *Mailbox) Summary(uid uint32) (*Summary, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	i, ok := m.Index(uid)
	if !ok {
		return nil, fmt.Errorf("%w: UID %d", ErrNoSuchMessage, uid)
	}
	r := &m.recs[i]
	base := m.baseOf(r)
	c := m.summaries()
	// The view already knows the file's size (S= in its name, which
	// Maildir writers keep true) and, usually, its mtime: a cache entry
	// that matches both needs no stat. Anything else is checked against
	// the file itself below.
	if size, _ := sizesFromBase(base); size > 0 && r.mtime != noTime {
		if s, ok := c.Get(base, size, time.Unix(0, r.mtime)); ok {
			return s, nil
		}
	}
	path := m.pathOf(r)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		// Renamed by another session (a flag change): same base name.
		if path, err = m.findFile(base); err == nil {
			st, err = os.Stat(path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: UID %d: %w", uid, err)
	}
	if s, ok := c.Get(base, st.Size(), st.ModTime()); ok {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("maildir: UID %d: %w", uid, err)
	}
	defer f.Close()
	// The entry is keyed by the file as it was opened, so a change made
	// after the Stat above is not stored under the older size and mtime.
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("maildir: UID %d: %w", uid, err)
	}
	cr := crlfReaders.Get().(*crlfReader)
	*cr = crlfReader{r: f, buf: cr.buf}
	s, err := ParseSummary(cr)
	*cr = crlfReader{buf: cr.buf}
	crlfReaders.Put(cr)
	if err != nil {
		return nil, fmt.Errorf("maildir: UID %d: %w", uid, err)
	}
	c.Put(base, st.Size(), st.ModTime(), s)
	return s, nil
}

// SubjectInfo is what SEARCH SUBJECT needs of a summary.
type SubjectInfo struct {
	Subject    string // Envelope.Subject
	Exact      bool   // Summary.SubjectExact
	HeaderSize int64  // Summary.HeaderSize
}

// Subject is the part of Summary(uid) that SEARCH SUBJECT reads; from the
// cache it is had without decoding the rest of the summary.
func (m *Mailbox) Subject(uid uint32) (SubjectInfo, error) {
	if m.isClosed() {
		return SubjectInfo{}, ErrClosed
	}
	if i, ok := m.Index(uid); ok {
		r := &m.recs[i]
		base := m.baseOf(r)
		if size, _ := sizesFromBase(base); size > 0 && r.mtime != noTime {
			if si, ok := m.summaries().GetSubject(base, size, time.Unix(0, r.mtime)); ok {
				return si, nil
			}
		}
	}
	s, err := m.Summary(uid)
	if err != nil {
		return SubjectInfo{}, err
	}
	return SubjectInfo{Subject: s.Envelope.Subject, Exact: s.SubjectExact, HeaderSize: s.HeaderSize}, nil
}

// crlfReaders keeps the CRLF converters (and their buffers) of Summary.
var crlfReaders = sync.Pool{New: func() any { return &crlfReader{} }}

// summaries returns the folder's cache, opening it on first use.
func (m *Mailbox) summaries() *summaryCache {
	if m.sum == nil {
		m.sum = openSummaryCache(m.dir)
		m.sum.owner = m.s.ownerOf(m.dir)
	}
	return m.sum
}

// closeSummaries writes what the cache holds, after dropping the entries
// of messages no longer in the view when some left it in this session.
func (m *Mailbox) closeSummaries() error {
	c := m.sum
	if c == nil {
		return nil
	}
	m.sum = nil
	if m.sumForget {
		keep := make(map[string]struct{}, len(m.recs))
		for i := range m.recs {
			keep[m.baseOf(&m.recs[i])] = struct{}{}
		}
		c.Forget(func(base string) bool {
			_, ok := keep[base]
			return ok
		})
	}
	err := c.Flush()
	c.Close()
	return err
}
