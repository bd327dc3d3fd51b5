package maildir

// Learning from the Spam button and routing by the junk lists.
//
// A message copied, moved or appended into Junk, or given the $Junk keyword, puts
// its sender on the user's blocklist; one moved from Junk to INBOX, or
// given $NotJunk, puts the sender on the allowlist (which takes it off the
// blocklist). The sender is the From address, or the Return-Path when From
// has none. Learning never makes the operation fail: a message whose
// sender cannot be read teaches nothing, and that is logged.
//
// Delivery into INBOX consults the recipient's lists: mail from a
// blocklisted sender (From or Return-Path), unless either is allowlisted,
// goes to the recipient's Junk folder instead, with "X-Spam-Status: Yes"
// and the $Junk keyword. Each recipient is judged on their own lists.

import (
	"bufio"
	"io"
	"net/mail"
	"net/textproto"
	"os"
	"slices"
	"strings"
)

const (
	junkFolder     = "Junk"
	junkKeyword    = "$Junk"
	notJunkKeyword = "$NotJunk"
	spamHeader     = "X-Spam-Status: Yes\n"
	// maxSenderHeader bounds how much of a message is read to find its
	// sender: the header only, and not an endless one.
	maxSenderHeader = 64 << 10
)

// messageSenders returns the From address and the Return-Path of a
// message, lower-cased, "" when absent or unreadable.
func messageSenders(r io.Reader) (from, returnPath string) {
	from, returnPath, _ = messageFacts(r)
	return from, returnPath
}

// messageFacts is messageSenders plus whether the message carries our
// "X-Spam-Status: Yes".
func messageFacts(r io.Reader) (from, returnPath string, spam bool) {
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(r, maxSenderHeader)))
	h, _ := tp.ReadMIMEHeader() // a partial header is still worth reading
	spam = strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Get("X-Spam-Status"))), "yes")
	if list, err := mail.ParseAddressList(h.Get("From")); err == nil && len(list) > 0 {
		from = strings.ToLower(list[0].Address)
	} else if a := angleAddr(h.Get("From")); a != "" {
		from = a
	}
	returnPath = angleAddr(h.Get("Return-Path"))
	return from, returnPath, spam
}

// learnFromAppend is the Spam button of clients that move messages by
// APPEND and EXPUNGE (mbsync, and any client syncing a local copy): a
// message appended to Junk blocklists its sender, and one appended to
// INBOX that carries our X-Spam-Status: Yes (a message the lists had sent
// to Junk, moved back) allowlists it.
func (m *Mailbox) learnFromAppend(path string) {
	if m.folder != junkFolder && m.folder != inboxName {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	from, rp, spam := messageFacts(f)
	f.Close()
	l := junkLesson{list: Blocklist}
	if m.folder == inboxName {
		if !spam {
			return
		}
		l.list = Allowlist
	}
	sender := from
	if sender == "" {
		sender = rp
	}
	if sender == "" {
		m.s.log.Info("maildir: junk learning: no sender address in appended message", "addr", m.addr, "folder", m.folder)
		return
	}
	l.senders = []string{sender}
	m.learn(l)
}

// angleAddr takes the address out of "<a@b>" or "Name <a@b>", leniently.
func angleAddr(v string) string {
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if !strings.Contains(v, "@") || strings.ContainsAny(v, " \t") {
		return ""
	}
	return v
}

// senderOf is the address learning uses for one message of the view.
func (m *Mailbox) senderOf(uid uint32) string {
	rc, err := m.Open(uid)
	if err != nil {
		return ""
	}
	defer rc.Close()
	from, rp := messageSenders(rc)
	if from != "" {
		return from
	}
	return rp
}

// junkLesson is what a copy, move or keyword change teaches: senders to
// put on one list.
type junkLesson struct {
	list    JunkList
	senders []string
}

// lessonForTransfer decides, before the messages leave, what moving or
// copying uids to dest teaches. ok is false when it teaches nothing.
func (m *Mailbox) lessonForTransfer(uids []uint32, dest string) (junkLesson, bool) {
	dst, err := canonicalFolderName(dest)
	if err != nil {
		return junkLesson{}, false
	}
	var l junkLesson
	switch {
	case dst == junkFolder && m.folder != junkFolder:
		l.list = Blocklist
	case m.folder == junkFolder && dst == inboxName:
		l.list = Allowlist
	default:
		return junkLesson{}, false
	}
	return m.lessonSenders(l, uids), true
}

// lessonForKeywords decides what adding keywords teaches.
func (m *Mailbox) lessonForKeywords(uids []uint32, op FlagOp, keywords []string) (junkLesson, bool) {
	if op == FlagsRemove {
		return junkLesson{}, false
	}
	var l junkLesson
	switch {
	case slices.ContainsFunc(keywords, func(k string) bool { return strings.EqualFold(k, junkKeyword) }):
		l.list = Blocklist
	case slices.ContainsFunc(keywords, func(k string) bool { return strings.EqualFold(k, notJunkKeyword) }):
		l.list = Allowlist
	default:
		return junkLesson{}, false
	}
	return m.lessonSenders(l, uids), true
}

func (m *Mailbox) lessonSenders(l junkLesson, uids []uint32) junkLesson {
	for _, u := range uids {
		if s := m.senderOf(u); s != "" && !slices.Contains(l.senders, s) {
			l.senders = append(l.senders, s)
		} else if s == "" {
			m.s.log.Info("maildir: junk learning: no sender address in message", "addr", m.addr, "folder", m.folder, "uid", u)
		}
	}
	return l
}

// learn records a lesson in the user's lists.
func (m *Mailbox) learn(l junkLesson) {
	for _, sender := range l.senders {
		if _, err := m.s.AddJunkEntry(m.addr, l.list, sender); err != nil {
			m.s.log.Warn("maildir: junk learning", "addr", m.addr, "sender", sender, "list", l.list, "err", err)
			continue
		}
		m.s.log.Info("maildir: junk learning", "addr", m.addr, "sender", sender, "list", l.list)
	}
}

// junkVerdictFor judges a delivery to addr from its From and Return-Path.
func (s *Store) junkVerdictFor(addr, from, returnPath string) bool {
	var senders []string
	for _, a := range []string{from, returnPath} {
		if a != "" {
			senders = append(senders, a)
		}
	}
	for _, list := range []JunkList{Allowlist, Blocklist} {
		entries, err := s.JunkEntries(addr, list)
		if err != nil {
			s.log.Warn("maildir: reading junk lists", "addr", addr, "err", err)
			return false
		}
		for _, snd := range senders {
			_, domain, _ := strings.Cut(snd, "@")
			if slices.Contains(entries, snd) || slices.Contains(entries, "@"+domain) {
				return list == Blocklist
			}
		}
	}
	return false
}

// spooledSenders reads the senders of a spooled delivery.
func spooledSenders(path string) (from, returnPath string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	return messageSenders(f)
}
