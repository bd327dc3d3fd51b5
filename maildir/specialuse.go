package maildir

import (
	"errors"
	"fmt"
)

// SpecialUse is a folder's role (RFC 6154), which clients use to find the
// folder for sent mail, drafts and so on whatever its name.
type SpecialUse string

// The roles maildird knows. Each has one fixed folder name.
const (
	UseNone    SpecialUse = ""
	UseSent    SpecialUse = "sent"
	UseDrafts  SpecialUse = "drafts"
	UseTrash   SpecialUse = "trash"
	UseJunk    SpecialUse = "junk"
	UseArchive SpecialUse = "archive"
)

// specialUseName is the folder name of a role: the names most clients and
// servers (Dovecot's example configuration among them) already use, so a
// Maildir taken over from Dovecot usually has these folders already.
func specialUseName(use SpecialUse) (string, bool) {
	switch use {
	case UseSent:
		return "Sent", true
	case UseDrafts:
		return "Drafts", true
	case UseTrash:
		return "Trash", true
	case UseJunk:
		return "Junk", true
	case UseArchive:
		return "Archive", true
	}
	return "", false
}

// specialUseOf is the role of a folder; only the fixed top-level names have
// one, matched exactly (IMAP names other than INBOX are case-sensitive).
func specialUseOf(name string) SpecialUse {
	switch name {
	case "Sent":
		return UseSent
	case "Drafts":
		return UseDrafts
	case "Trash":
		return UseTrash
	case "Junk":
		return UseJunk
	case "Archive":
		return UseArchive
	}
	return UseNone
}

// SpecialFolder returns the name of addr's folder with the given role,
// creating and subscribing it the first time it is needed (a client that
// saves to Sent right after the first login must find it there). An
// existing folder is returned as it is: a user who unsubscribed it meant it.
func (s *Store) SpecialFolder(addr string, use SpecialUse) (string, error) {
	name, ok := specialUseName(use)
	if !ok {
		return "", fmt.Errorf("maildir: unknown special use %q", string(use))
	}
	err := s.CreateFolder(addr, name)
	if errors.Is(err, ErrFolderExists) {
		return name, nil
	}
	if err != nil {
		return "", err
	}
	if err := s.Subscribe(addr, name); err != nil {
		return "", err
	}
	return name, nil
}
