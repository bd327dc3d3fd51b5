package imap

import (
	"errors"
	"strings"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
)

// specialUseAttrs maps maildir's roles to RFC 6154 attributes.
var specialUseAttrs = map[maildir.SpecialUse]goimap.MailboxAttr{
	maildir.UseSent:    goimap.MailboxAttrSent,
	maildir.UseDrafts:  goimap.MailboxAttrDrafts,
	maildir.UseTrash:   goimap.MailboxAttrTrash,
	maildir.UseJunk:    goimap.MailboxAttrJunk,
	maildir.UseArchive: goimap.MailboxAttrArchive,
}

// Create serves CREATE (RFC 3501 §6.3.3) with CREATE-SPECIAL-USE (RFC
// 6154 §3). A trailing separator is dropped: every Maildir++ folder can
// hold both messages and folders. Roles belong to fixed folder names in
// maildir, so a USE that does not match the name's role is refused with
// USEATTR.
func (s *session) Create(name string, options *goimap.CreateOptions) error {
	s.touch()
	name = strings.TrimSuffix(name, string(delim))
	if canonicalName(name) == "INBOX" {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeAlreadyExists, Text: "INBOX always exists"}
	}
	st := s.srv.opts.Store
	if err := st.CreateFolder(s.user, name); err != nil {
		return storeError(err)
	}
	if len(options.SpecialUse) == 0 {
		return nil
	}
	use := maildir.UseNone
	if folders, err := st.Folders(s.user); err == nil {
		for _, f := range folders {
			if f.Name == name {
				use = f.Use
			}
		}
	}
	for _, attr := range options.SpecialUse {
		if !strings.EqualFold(string(attr), string(specialUseAttrs[use])) {
			if err := st.DeleteFolder(s.user, name); err != nil {
				s.log.Warn("imap: undoing CREATE", "folder", name, "err", err)
			}
			return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: codeUseAttr, Text: "This server gives " + string(attr) + " to a fixed folder name only"}
		}
	}
	return nil
}

// Delete serves DELETE (RFC 3501 §6.3.4). Folders below the deleted one
// stay.
func (s *session) Delete(name string) error {
	s.touch()
	if canonicalName(name) == "INBOX" {
		return storeError(maildir.ErrInbox)
	}
	return storeError(s.srv.opts.Store.DeleteFolder(s.user, name))
}

// Rename serves RENAME (RFC 3501 §6.3.5): folders below move along;
// renaming INBOX moves its messages into a new folder.
func (s *session) Rename(from, to string, _ *goimap.RenameOptions) error {
	s.touch()
	to = strings.TrimSuffix(to, string(delim))
	if canonicalName(to) == "INBOX" {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeAlreadyExists, Text: "INBOX always exists"}
	}
	return storeError(s.srv.opts.Store.RenameFolder(s.user, canonicalName(from), to))
}

// Subscribe serves SUBSCRIBE (RFC 3501 §6.3.6).
func (s *session) Subscribe(name string) error {
	s.touch()
	return storeError(s.srv.opts.Store.Subscribe(s.user, canonicalName(name)))
}

// Unsubscribe serves UNSUBSCRIBE (RFC 3501 §6.3.7); a subscription may
// outlive its folder, and removing it is always possible.
func (s *session) Unsubscribe(name string) error {
	s.touch()
	err := s.srv.opts.Store.Unsubscribe(s.user, canonicalName(name))
	if errors.Is(err, maildir.ErrBadFolderName) {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeNonExistent, Text: "No such subscription"}
	}
	return storeError(err)
}
