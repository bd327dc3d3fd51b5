package maildir

import "errors"

// Errors callers tell apart with errors.Is.
var (
	ErrBadAddress     = errors.New("maildir: bad mail address")
	ErrBadFolderName  = errors.New("maildir: bad folder name")
	ErrNoSuchFolder   = errors.New("maildir: no such folder")
	ErrFolderExists   = errors.New("maildir: folder already exists")
	ErrInbox          = errors.New("maildir: INBOX cannot be deleted or renamed away")
	ErrNoSuchMessage  = errors.New("maildir: no such message")
	ErrTooBig         = errors.New("maildir: message exceeds the size limit")
	ErrBadKeyword     = errors.New("maildir: bad keyword")
	ErrTooManyKeyword = errors.New("maildir: no keyword letters left (26 in use)")
	ErrLocked         = errors.New("maildir: lock timeout")
	ErrClosed         = errors.New("maildir: mailbox closed")
)
