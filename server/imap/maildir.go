package imap

// The bridge to package maildir: one shared view per open folder, flags,
// and errors.
//
// Every session that selects a folder uses the same maildir.Mailbox (the
// "server view" of imapserver's MailboxTracker), guarded by one mutex, so
// that 200 phones with INBOX open cost one view, not 200, and so that the
// tracker's sequence numbers are those of that one view. Each session has
// a SessionTracker that queues the updates it has not been told about yet
// and translates sequence numbers between its client's view and the
// server view.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildird/maildird/maildir"
)

// boxKey names a folder of a user; name is canonical ("INBOX" for INBOX).
type boxKey struct{ user, name string }

// registry holds the folders some session has selected.
type registry struct {
	store *maildir.Store
	log   *slog.Logger

	mu    sync.Mutex
	boxes map[boxKey]*sharedBox
}

func newRegistry(store *maildir.Store, log *slog.Logger) *registry {
	return &registry{store: store, log: log, boxes: map[boxKey]*sharedBox{}}
}

// sharedBox is one open folder, shared by the sessions that selected it.
type sharedBox struct {
	reg *registry
	key boxKey

	ready   chan struct{} // closed once mb is open (or failed)
	openErr error
	refs    int // guarded by reg.mu

	mu       sync.Mutex // guards everything below
	mb       *maildir.Mailbox
	tracker  *imapserver.MailboxTracker
	members  map[*selection]struct{}
	keywords []string // as last announced in FLAGS
	// recentFrom: UIDs from here on are \Recent for the next session that
	// selects the folder read-write (RFC 3501 §2.3.2).
	recentFrom uint32
	idlers     int
	stopWatch  context.CancelFunc
}

// acquire opens (or shares) the folder name of user.
func (r *registry) acquire(user, name string) (*sharedBox, error) {
	key := boxKey{user, canonicalName(name)}
	r.mu.Lock()
	b := r.boxes[key]
	if b == nil {
		b = &sharedBox{reg: r, key: key, ready: make(chan struct{}), members: map[*selection]struct{}{}}
		r.boxes[key] = b
		b.refs++
		r.mu.Unlock()
		b.open()
	} else {
		b.refs++
		r.mu.Unlock()
		<-b.ready
	}
	if b.openErr != nil {
		err := b.openErr
		r.release(b)
		return nil, err
	}
	return b, nil
}

func (b *sharedBox) open() {
	defer close(b.ready)
	mb, err := b.reg.store.OpenMailbox(b.key.user, b.key.name)
	if err != nil {
		b.openErr = err
		return
	}
	b.mb = mb
	b.tracker = imapserver.NewMailboxTracker(uint32(mb.Len()))
	b.keywords = mb.Keywords()
	b.recentFrom = mb.UIDNext()
	if first := mb.FirstRecent(); first != 0 {
		// Mail that waited in new/ is \Recent for the first session, as
		// Dovecot has it (the files in new/ are the ones no client saw).
		b.recentFrom = first
	}
}

// lookup returns the folder if some session has it open, with a reference.
func (r *registry) lookup(user, name string) *sharedBox {
	key := boxKey{user, canonicalName(name)}
	r.mu.Lock()
	b := r.boxes[key]
	if b != nil {
		b.refs++
	}
	r.mu.Unlock()
	if b == nil {
		return nil
	}
	<-b.ready
	if b.openErr != nil {
		r.release(b)
		return nil
	}
	return b
}

// release drops a reference; the last one closes the folder.
func (r *registry) release(b *sharedBox) {
	r.mu.Lock()
	b.refs--
	last := b.refs == 0
	if last {
		delete(r.boxes, b.key)
	}
	r.mu.Unlock()
	if last && b.mb != nil {
		b.mu.Lock()
		if b.stopWatch != nil {
			b.stopWatch()
			b.stopWatch = nil
		}
		b.mb.Close()
		b.mu.Unlock()
	}
}

// canonicalName spells INBOX in capitals, whatever the client wrote.
func canonicalName(name string) string {
	if len(name) >= 5 && (len(name) == 5 || name[5] == '/') && eqFoldASCII(name[:5], "INBOX") {
		return "INBOX" + name[5:]
	}
	return name
}

func eqFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// leave removes a session; the caller then releases its reference.
func (b *sharedBox) leave(sel *selection) {
	b.mu.Lock()
	delete(b.members, sel)
	sel.tracker.Close()
	b.mu.Unlock()
}

// syncLocked reads what changed on disk and tells every session. source,
// when not nil, is the read-write session that asked: it gets \Recent for
// the new messages. b.mu is held.
func (b *sharedBox) syncLocked(source *selection) error {
	ch, err := b.mb.Sync()
	if err != nil {
		return err
	}
	if ch.Empty() {
		return nil
	}
	if ch.UIDValidity {
		b.reg.log.Warn("imap: UIDVALIDITY changed under open sessions", "user", b.key.user, "folder", b.key.name)
	}
	b.expungedLocked(ch.Expunged)
	if len(ch.New) > 0 {
		n := uint32(b.mb.Len()) - uint32(len(ch.New))
		for range ch.New {
			// One EXISTS step per message: SessionTracker.EncodeSeqNum
			// recognises only single steps as not yet announced.
			n++
			b.tracker.QueueNumMessages(n)
		}
		if source != nil && !source.readOnly {
			for _, uid := range ch.New {
				if uid >= b.recentFrom {
					source.recent[uid] = struct{}{}
				}
			}
			b.recentFrom = max(b.recentFrom, b.mb.UIDNext())
		}
	}
	for _, uid := range ch.FlagsChanged {
		if i, ok := b.mb.Index(uid); ok {
			b.tracker.QueueMessageFlags(uint32(i)+1, goimap.UID(uid), imapFlags(b.mb.At(i)), nil)
		}
	}
	b.keywordsChangedLocked()
	b.wakeLocked()
	return nil
}

// expungedLocked tells the sessions about messages that have left the
// view (ascending UIDs). Each one's sequence number, counted the way the
// tracker applies expunges one after the other, is its position among the
// messages that remain, plus one.
func (b *sharedBox) expungedLocked(uids []uint32) {
	for _, uid := range uids {
		i, _ := b.mb.Index(uid)
		b.tracker.QueueExpunge(uint32(i) + 1)
	}
}

// flagsChangedLocked tells the other sessions about flag changes made by
// source.
func (b *sharedBox) flagsChangedLocked(uids []uint32, source *selection) {
	for _, uid := range uids {
		if i, ok := b.mb.Index(uid); ok {
			var st *imapserver.SessionTracker
			if source != nil {
				st = source.tracker
			}
			b.tracker.QueueMessageFlags(uint32(i)+1, goimap.UID(uid), imapFlags(b.mb.At(i)), st)
		}
	}
	b.keywordsChangedLocked()
	b.wakeLocked()
}

// keywordsChangedLocked sends FLAGS when a keyword was added.
func (b *sharedBox) keywordsChangedLocked() {
	kw := b.mb.Keywords()
	if slices.Equal(kw, b.keywords) {
		return
	}
	b.keywords = kw
	b.tracker.QueueMailboxFlags(mailboxFlags(kw))
}

// wakeLocked tells the sessions in IDLE that updates wait.
func (b *sharedBox) wakeLocked() {
	for sel := range b.members {
		select {
		case sel.wake <- struct{}{}:
		default:
		}
	}
}

// startIdle and stopIdle keep one goroutine waiting for changes on disk
// (maildir.Mailbox.Wait) while at least one session is in IDLE.
func (b *sharedBox) startIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.idlers++
	if b.idlers > 1 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stopWatch = cancel
	go b.watch(ctx)
}

func (b *sharedBox) stopIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.idlers--
	if b.idlers == 0 && b.stopWatch != nil {
		b.stopWatch()
		b.stopWatch = nil
	}
}

// minWatchGap spaces the syncs of a folder that keeps changing.
const minWatchGap = 50 * time.Millisecond

func (b *sharedBox) watch(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			b.reg.log.Error("imap: panic watching a folder", "panic", v)
		}
	}()
	for {
		err := b.mb.Wait(ctx)
		if ctx.Err() != nil || errors.Is(err, maildir.ErrClosed) {
			return
		}
		b.mu.Lock()
		if err == nil {
			err = b.syncLocked(nil)
		}
		b.mu.Unlock()
		delay := minWatchGap
		if err != nil {
			b.reg.log.Warn("imap: watching a folder", "user", b.key.user, "folder", b.key.name, "err", err)
			delay = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// Flags.

var systemFlags = []struct {
	f    maildir.Flag
	name goimap.Flag
}{
	// Dovecot's order, in which it writes them.
	{maildir.FlagAnswered, goimap.FlagAnswered},
	{maildir.FlagFlagged, goimap.FlagFlagged},
	{maildir.FlagDeleted, goimap.FlagDeleted},
	{maildir.FlagSeen, goimap.FlagSeen},
	{maildir.FlagDraft, goimap.FlagDraft},
	{maildir.FlagForwarded, goimap.FlagForwarded},
}

// imapFlags lists a message's flags and keywords (without \Recent).
func imapFlags(m maildir.Message) []goimap.Flag { return imapFlagsRecent(m, false) }

// imapFlagsRecent is imapFlags with \Recent where Dovecot puts it: after
// the system flags, before the keywords.
func imapFlagsRecent(m maildir.Message, recent bool) []goimap.Flag {
	out := make([]goimap.Flag, 0, 7+len(m.Keywords))
	for _, sf := range systemFlags {
		if sf.f == maildir.FlagForwarded {
			continue // a keyword to IMAP: with them, below
		}
		if m.Flags&sf.f != 0 {
			out = append(out, sf.name)
		}
	}
	if recent {
		out = append(out, flagRecent)
	}
	if m.Flags&maildir.FlagForwarded != 0 {
		out = append(out, goimap.FlagForwarded)
	}
	for _, k := range m.Keywords {
		out = append(out, goimap.Flag(k))
	}
	return out
}

// mailboxFlags is the FLAGS list of a folder with keywords kw.
func mailboxFlags(kw []string) []goimap.Flag {
	out := make([]goimap.Flag, 0, len(systemFlags)+len(kw))
	for _, sf := range systemFlags {
		out = append(out, sf.name)
	}
	for _, k := range kw {
		out = append(out, goimap.Flag(k))
	}
	return out
}

// maxKeywords is the number of keyword letters a Maildir has (a-z).
const maxKeywords = 26

// permanentFlags adds \* while keywords can still be created.
func permanentFlags(kw []string) []goimap.Flag {
	out := mailboxFlags(kw)
	if len(kw) < maxKeywords {
		out = append(out, goimap.FlagWildcard)
	}
	return out
}

// splitFlags turns IMAP flags into maildir flag bits and keywords. \Recent
// cannot be stored and is ignored (RFC 3501 §6.4.6); an unknown system
// flag is an error.
func splitFlags(flags []goimap.Flag) (maildir.Flag, []string, error) {
	var f maildir.Flag
	var kw []string
outer:
	for _, fl := range flags {
		for _, sf := range systemFlags {
			if eqFoldASCII(string(fl), string(sf.name)) {
				f |= sf.f
				continue outer
			}
		}
		if eqFoldASCII(string(fl), string(flagRecent)) {
			continue
		}
		if len(fl) > 0 && fl[0] == '\\' {
			return 0, nil, &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "Unknown system flag " + string(fl)}
		}
		if !slices.Contains(kw, string(fl)) {
			kw = append(kw, string(fl))
		}
	}
	return f, kw, nil
}

// Errors.

// storeError turns a maildir error into the IMAP reply; anything else is
// returned as it is (imapserver logs it and answers "Internal server error").
func storeError(err error) error {
	if err == nil {
		return nil
	}
	no := func(code goimap.ResponseCode, text string) error {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: code, Text: text}
	}
	switch {
	case errors.Is(err, maildir.ErrNoSuchFolder):
		return no(goimap.ResponseCodeNonExistent, "No such mailbox")
	case errors.Is(err, maildir.ErrFolderExists):
		return no(goimap.ResponseCodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, maildir.ErrBadFolderName):
		return no(goimap.ResponseCodeCannot, "Invalid mailbox name")
	case errors.Is(err, maildir.ErrInbox):
		return no(goimap.ResponseCodeCannot, "INBOX cannot be deleted")
	case errors.Is(err, maildir.ErrTooBig):
		return no(goimap.ResponseCodeTooBig, "Message too big")
	case errors.Is(err, maildir.ErrBadKeyword):
		return &goimap.Error{Type: goimap.StatusResponseTypeBad, Text: "Invalid keyword"}
	case errors.Is(err, maildir.ErrTooManyKeyword):
		return no(goimap.ResponseCodeLimit, "Too many keywords in this mailbox")
	case errors.Is(err, maildir.ErrLocked):
		return no(goimap.ResponseCodeInUse, "Mailbox is busy, try again")
	case errors.Is(err, maildir.ErrNoSuchMessage):
		return no(codeExpungeIssued, "Some of the requested messages no longer exist")
	case errors.Is(err, maildir.ErrBadAddress):
		return no(goimap.ResponseCodeCannot, "Invalid user")
	}
	return err
}

// Messages for FETCH and SEARCH.

// boxMessage is one message of a shared folder as FETCH and SEARCH see it.
type boxMessage struct {
	b   *sharedBox
	msg maildir.Message
}

func (m *boxMessage) Info() maildir.Message { return m.msg }

// summarizer is maildir.Mailbox's cached summary, where it exists.
type summarizer interface {
	Summary(uid uint32) (*maildir.Summary, error)
}

// subjecter is maildir.Mailbox's subject from the cached summary.
type subjecter interface {
	Subject(uid uint32) (maildir.SubjectInfo, error)
}

// Subject is what SEARCH SUBJECT needs of the summary, read without
// decoding all of it when the mailbox can.
func (m *boxMessage) Subject() (maildir.SubjectInfo, error) {
	m.b.mu.Lock()
	if s, ok := any(m.b.mb).(subjecter); ok {
		defer m.b.mu.Unlock()
		return s.Subject(m.msg.UID)
	}
	m.b.mu.Unlock()
	sum, err := m.Summary()
	if err != nil {
		return maildir.SubjectInfo{}, err
	}
	return maildir.SubjectInfo{Subject: sum.Envelope.Subject, Exact: sum.SubjectExact, HeaderSize: sum.HeaderSize}, nil
}

func (m *boxMessage) Summary() (*maildir.Summary, error) {
	m.b.mu.Lock()
	if s, ok := any(m.b.mb).(summarizer); ok {
		defer m.b.mu.Unlock()
		return s.Summary(m.msg.UID)
	}
	rc, err := m.b.mb.Open(m.msg.UID)
	m.b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return maildir.ParseSummary(rc)
}

func (m *boxMessage) Open() (io.ReadCloser, error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	return m.b.mb.Open(m.msg.UID)
}

// Response codes go-imap does not name.
const (
	codeExpungeIssued goimap.ResponseCode = "EXPUNGEISSUED" // RFC 5530
	codeUseAttr       goimap.ResponseCode = "USEATTR"       // RFC 6154
)

// flagRecent is IMAP4rev1's \Recent, which go-imap v2 does not name.
const flagRecent goimap.Flag = "\\Recent"
