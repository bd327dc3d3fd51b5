package imap

import (
	"github.com/emersion/go-imap/v2/imapserver"
)

// Poll runs after every command in the authenticated and selected states
// (NOOP and CHECK among them): it reads what changed on disk and writes
// the updates this client has not seen. EXPUNGE responses wait while
// allowExpunge is false (after FETCH, STORE and SEARCH: RFC 3501 §7.4.1).
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	s.touch()
	sel := s.sel
	if sel == nil {
		return nil
	}
	b := sel.box
	b.mu.Lock()
	err := b.syncLocked(sel)
	b.mu.Unlock()
	if err != nil {
		s.log.Warn("imap: syncing folder", "folder", sel.name, "err", err)
	}
	return sel.tracker.Poll(w, allowExpunge)
}

// Idle serves IDLE (RFC 2177): updates are written as they come, from
// other sessions of this server at once and from other programs (SMTP
// delivery, a file dropped into new/) as soon as maildir.Mailbox.Wait
// sees them, until the client sends DONE. imapserver ends an IDLE that
// lasts beyond 35 minutes; clients renew theirs every 29 at most.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	s.idling.Store(true)
	defer func() {
		s.idling.Store(false)
		s.touch()
	}()
	sel := s.sel
	if sel == nil {
		<-stop
		return nil
	}
	b := sel.box
	b.startIdle()
	defer b.stopIdle()
	if err := s.Poll(w, true); err != nil {
		return err
	}
	for {
		select {
		case <-stop:
			return nil
		case <-sel.wake:
			if err := sel.tracker.Poll(w, true); err != nil {
				return err
			}
		}
	}
}
