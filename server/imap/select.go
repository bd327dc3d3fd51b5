package imap

import (
	"errors"
	"io/fs"
	"slices"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
)

// Select serves SELECT and EXAMINE (RFC 3501 §6.3.1-2, RFC 9051 §6.3.2-3).
// imapserver has already unselected the previous folder.
func (s *session) Select(name string, options *goimap.SelectOptions) (*goimap.SelectData, error) {
	s.touch()
	s.unselect()
	b, err := s.srv.boxes.acquire(s.user, name)
	if err != nil {
		return nil, storeError(err)
	}
	sel := &selection{
		box: b, readOnly: options.ReadOnly, name: canonicalName(name),
		recent: map[uint32]struct{}{}, wake: make(chan struct{}, 1),
	}
	b.mu.Lock()
	if err := b.syncLocked(nil); err != nil {
		b.mu.Unlock()
		s.srv.boxes.release(b)
		return nil, storeError(err)
	}
	sel.tracker = b.tracker.NewSession()
	b.members[sel] = struct{}{}
	n := b.mb.Len()
	if !sel.readOnly {
		// This session is the first to see what arrived since the last
		// read-write SELECT: those messages are \Recent here.
		i, _ := b.mb.Index(b.recentFrom)
		for ; i < n; i++ {
			sel.recent[b.mb.At(i).UID] = struct{}{}
		}
		b.recentFrom = max(b.recentFrom, b.mb.UIDNext())
	}
	data := &goimap.SelectData{
		Flags:          mailboxFlags(b.keywords),
		PermanentFlags: []goimap.Flag{},
		NumMessages:    uint32(n),
		NumRecent:      uint32(len(sel.recent)),
		UIDNext:        goimap.UID(b.mb.UIDNext()),
		UIDValidity:    b.mb.UIDValidity(),
	}
	if !sel.readOnly {
		data.PermanentFlags = permanentFlags(b.keywords)
	}
	for i := 0; i < n; i++ {
		if b.mb.At(i).Flags&maildir.FlagSeen == 0 {
			data.FirstUnseenSeqNum = uint32(i) + 1
			break
		}
	}
	b.mu.Unlock()
	s.sel = sel
	s.res = nil
	return data, nil
}

// Unselect serves UNSELECT (RFC 3691) and the end of CLOSE.
func (s *session) Unselect() error {
	s.touch()
	s.unselect()
	return nil
}

func (s *session) unselect() {
	sel := s.sel
	if sel == nil {
		return
	}
	s.sel = nil
	s.res = nil
	sel.box.leave(sel)
	s.srv.boxes.release(sel.box)
}

// flags is a message's FLAGS as this session shows them: with \Recent
// for IMAP4rev1 clients (IMAP4rev2 dropped it).
func (s *session) flags(m maildir.Message) []goimap.Flag {
	recent := false
	if s.sel != nil {
		_, recent = s.sel.recent[m.UID]
		recent = recent && !s.conn.EnabledCaps().Has(goimap.CapIMAP4rev2)
	}
	return imapFlagsRecent(m, recent)
}

// item is one message of a command's set: its sequence number in the
// client's view and what the folder view knows of it.
type item struct {
	seq uint32
	msg maildir.Message
}

// batchSize is how many messages a command handles per hold of the
// folder's lock; writing to the client happens without the lock.
const batchSize = 256

// numRange is a range of sequence numbers or UIDs, 0 standing for "*".
type numRange struct{ lo, hi uint32 }

// staticRanges resolves "*" to max, orders the ranges and merges them; a
// range beyond max shrinks to max, as RFC 3501 §9 ("seq-range") reads.
func staticRanges(in []numRange, top uint32) []numRange {
	var out []numRange
	for _, r := range in {
		if r.lo == 0 {
			r.lo = top
		}
		if r.hi == 0 {
			r.hi = top
		}
		if r.lo > r.hi {
			r.lo, r.hi = r.hi, r.lo
		}
		if r.hi > top {
			r.hi = top
		}
		if r.lo == 0 {
			r.lo = 1
		}
		if r.lo > r.hi {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b numRange) int { return int(int64(a.lo) - int64(b.lo)) })
	merged := out[:0]
	for _, r := range out {
		if k := len(merged) - 1; k >= 0 && uint64(r.lo) <= uint64(merged[k].hi)+1 {
			merged[k].hi = max(merged[k].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func seqRanges(set goimap.SeqSet) []numRange {
	out := make([]numRange, len(set))
	for i, r := range set {
		out[i] = numRange{r.Start, r.Stop}
	}
	return out
}

func uidRanges(set goimap.UIDSet) []numRange {
	out := make([]numRange, len(set))
	for i, r := range set {
		out[i] = numRange{uint32(r.Start), uint32(r.Stop)}
	}
	return out
}

// clientMaxLocked is the highest sequence number of the client's view that
// still has a message ("*"). b.mu is held.
func (sel *selection) clientMaxLocked() uint32 {
	for n := uint32(sel.box.mb.Len()); n > 0; n-- {
		if c := sel.tracker.EncodeSeqNum(n); c != 0 {
			return c
		}
	}
	return 0
}

// maxUIDLocked is the highest UID in the view ("*" in a UID set).
func (sel *selection) maxUIDLocked() uint32 {
	if n := sel.box.mb.Len(); n > 0 {
		return sel.box.mb.At(n - 1).UID
	}
	return 0
}

// each calls fn with the messages of set that the client knows, in
// ascending order, in batches. "$" is res, the saved search result.
func (sel *selection) each(set goimap.NumSet, res goimap.UIDSet, fn func([]item) error) error {
	if goimap.IsSearchRes(set) {
		set = res
	}
	switch set := set.(type) {
	case goimap.SeqSet:
		return sel.eachSeq(set, fn)
	case goimap.UIDSet:
		return sel.eachUID(set, fn)
	}
	return errors.New("imap: unknown number set")
}

func (sel *selection) eachSeq(set goimap.SeqSet, fn func([]item) error) error {
	b := sel.box
	b.mu.Lock()
	ranges := staticRanges(seqRanges(set), sel.clientMaxLocked())
	b.mu.Unlock()
	batch := make([]item, 0, batchSize)
	for _, r := range ranges {
		for seq := uint64(r.lo); seq <= uint64(r.hi); {
			batch = batch[:0]
			b.mu.Lock()
			for ; seq <= uint64(r.hi) && len(batch) < batchSize; seq++ {
				s := sel.tracker.DecodeSeqNum(uint32(seq))
				if s == 0 || int(s) > b.mb.Len() {
					continue
				}
				batch = append(batch, item{seq: uint32(seq), msg: b.mb.At(int(s) - 1)})
			}
			b.mu.Unlock()
			if len(batch) > 0 {
				if err := fn(batch); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (sel *selection) eachUID(set goimap.UIDSet, fn func([]item) error) error {
	b := sel.box
	b.mu.Lock()
	ranges := staticRanges(uidRanges(set), sel.maxUIDLocked())
	b.mu.Unlock()
	batch := make([]item, 0, batchSize)
	for _, r := range ranges {
		next := uint64(r.lo)
		for next <= uint64(r.hi) {
			batch = batch[:0]
			b.mu.Lock()
			i, _ := b.mb.Index(uint32(next))
			n := b.mb.Len()
			if i >= n {
				next = uint64(r.hi) + 1
			}
			for ; i < n && len(batch) < batchSize; i++ {
				m := b.mb.At(i)
				if m.UID > r.hi {
					next = uint64(r.hi) + 1
					break
				}
				next = uint64(m.UID) + 1
				if c := sel.tracker.EncodeSeqNum(uint32(i) + 1); c != 0 {
					batch = append(batch, item{seq: c, msg: m})
				}
			}
			if i >= n {
				next = uint64(r.hi) + 1
			}
			b.mu.Unlock()
			if len(batch) > 0 {
				if err := fn(batch); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// wantsSeen reports whether FETCH sets \Seen: a BODY[] or BINARY[]
// Fetch serves FETCH and UID FETCH (RFC 3501 §6.4.5, RFC 9051 §6.4.5).
// The responses are written by writeFetchItems, straight to the
// connection (fetch.go says why); this sets \Seen first, so the FLAGS
// item shows it, and adds FLAGS when the client did not ask for them but
// they changed.
func (s *session) Fetch(_ *imapserver.FetchWriter, numSet goimap.NumSet, options *goimap.FetchOptions) error {
	sel := s.sel
	if sel == nil {
		return errNotSelected
	}
	s.touch()
	cmd, haveCmd := commandOf(s.conn)
	plan := newFetchPlan(options, cmd, haveCmd)
	markSeen := !sel.readOnly && plan.setsSeen
	out := newFetchOut(s.conn.NetConn())
	gone := false
	err := sel.each(numSet, s.res, func(items []item) error {
		var changed map[uint32]bool
		if markSeen {
			var err error
			if changed, err = sel.markSeen(items); err != nil {
				return storeError(err)
			}
		}
		for i := range items {
			s.touch()
			it := &items[i]
			err := writeFetchItems(out, it.seq, &boxMessage{b: sel.box, msg: it.msg}, plan, s.flags, changed[it.msg.UID])
			if out.err != nil {
				return out.err
			}
			if err != nil {
				if errors.Is(err, maildir.ErrNoSuchMessage) || errors.Is(err, fs.ErrNotExist) {
					gone = true
					continue
				}
				return err
			}
		}
		return nil
	})
	if cerr := out.close(); err == nil && cerr != nil {
		err = cerr
	}
	if out.err != nil {
		// The stream is out of step with what was announced: only
		// closing the connection is safe.
		s.conn.NetConn().Close()
		return out.err
	}
	if err != nil {
		return err
	}
	if gone {
		return storeError(maildir.ErrNoSuchMessage)
	}
	return nil
}

// markSeen sets \Seen on the items that lack it, updating them, and tells
// the other sessions. It returns the UIDs it changed.
func (sel *selection) markSeen(items []item) (map[uint32]bool, error) {
	var uids []uint32
	for _, it := range items {
		if it.msg.Flags&maildir.FlagSeen == 0 {
			uids = append(uids, it.msg.UID)
		}
	}
	if len(uids) == 0 {
		return nil, nil
	}
	b := sel.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.mb.StoreFlags(uids, maildir.FlagsAdd, maildir.FlagSeen, nil); err != nil {
		return nil, err
	}
	b.flagsChangedLocked(uids, sel)
	changed := make(map[uint32]bool, len(uids))
	for i := range items {
		it := &items[i]
		if j, ok := b.mb.Index(it.msg.UID); ok && it.msg.Flags&maildir.FlagSeen == 0 {
			it.msg = b.mb.At(j)
			changed[it.msg.UID] = true
		}
	}
	return changed, nil
}

// Search serves SEARCH and UID SEARCH with ESEARCH and SEARCHRES (RFC
// 3501 §6.4.4, RFC 9051 §6.4.4, RFC 4731, RFC 5182); searchMatch decides
// each message.
//
// go-imap beta.8 writes an ESEARCH response even for RETURN (SAVE) alone,
// which RFC 5182 §2.1 says to leave out; clients ignore the extra line.
func (s *session) Search(kind imapserver.NumKind, criteria *goimap.SearchCriteria, options *goimap.SearchOptions) (*goimap.SearchData, error) {
	sel := s.sel
	if sel == nil {
		return nil, errNotSelected
	}
	s.touch()
	b := sel.box
	b.mu.Lock()
	clientMax, maxUID := sel.clientMaxLocked(), sel.maxUIDLocked()
	b.mu.Unlock()
	staticCriteria(criteria, clientMax, maxUID, s.res)

	data := &goimap.SearchData{}
	var seqs goimap.SeqSet
	var uids goimap.UIDSet
	all := goimap.UIDSet{goimap.UIDRange{Start: 1, Stop: 0}}
	err := sel.each(all, nil, func(items []item) error {
		for i := range items {
			it := &items[i]
			ok, err := searchMatch(&boxMessage{b: b, msg: it.msg}, criteria, func(set goimap.NumSet) bool {
				switch set := set.(type) {
				case goimap.SeqSet:
					return set.Contains(it.seq)
				case goimap.UIDSet:
					return set.Contains(goimap.UID(it.msg.UID))
				}
				return false
			})
			if err != nil {
				if errors.Is(err, maildir.ErrNoSuchMessage) || errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			if !ok {
				continue
			}
			uids.AddNum(goimap.UID(it.msg.UID))
			num := it.seq
			if kind == imapserver.NumKindUID {
				num = it.msg.UID
			} else {
				seqs.AddNum(it.seq)
			}
			if data.Min == 0 || num < data.Min {
				data.Min = num
			}
			data.Max = max(data.Max, num)
			data.Count++
		}
		return nil
	})
	if err != nil {
		if options.ReturnSave {
			s.res = goimap.UIDSet{}
		}
		return nil, err
	}
	if kind == imapserver.NumKindUID {
		data.All = append(goimap.UIDSet{}, uids...)
	} else {
		data.All = append(goimap.SeqSet{}, seqs...)
	}
	if options.ReturnSave {
		s.res = append(goimap.UIDSet{}, uids...)
	}
	return data, nil
}

// staticCriteria replaces "*" in the sets of criteria by the current
// maximum and "$" by the saved result, recursively.
func staticCriteria(c *goimap.SearchCriteria, clientMax, maxUID uint32, res goimap.UIDSet) {
	for i, set := range c.SeqNum {
		out := make(goimap.SeqSet, 0, len(set))
		for _, r := range set {
			lo, hi := star(r.Start, clientMax), star(r.Stop, clientMax)
			if lo > hi {
				lo, hi = hi, lo
			}
			out = append(out, goimap.SeqRange{Start: lo, Stop: hi})
		}
		c.SeqNum[i] = out
	}
	for i, set := range c.UID {
		if goimap.IsSearchRes(set) {
			c.UID[i] = append(goimap.UIDSet{}, res...)
			continue
		}
		out := make(goimap.UIDSet, 0, len(set))
		for _, r := range set {
			lo, hi := star(uint32(r.Start), maxUID), star(uint32(r.Stop), maxUID)
			if lo > hi {
				lo, hi = hi, lo
			}
			out = append(out, goimap.UIDRange{Start: goimap.UID(lo), Stop: goimap.UID(hi)})
		}
		c.UID[i] = out
	}
	for i := range c.Not {
		staticCriteria(&c.Not[i], clientMax, maxUID, res)
	}
	for i := range c.Or {
		staticCriteria(&c.Or[i][0], clientMax, maxUID, res)
		staticCriteria(&c.Or[i][1], clientMax, maxUID, res)
	}
}

func star(n, top uint32) uint32 {
	if n == 0 {
		return top
	}
	return n
}
