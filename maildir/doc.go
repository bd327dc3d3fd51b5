// Package maildir owns every byte of maildird's on-disk mail state.
//
// Layout (Dovecot 2.3 compatible, mail_location = maildir:<root>/%d/%n):
//
//	<root>/<domain>/<localpart>/          Maildir++ root = INBOX
//	    cur/ new/ tmp/                    INBOX messages
//	    dovecot-uidlist                   v3: "3 V<uidvalidity> N<nextuid> G<guid>", then "<uid> [ext] :<base>"
//	    dovecot-uidlist.lock              dotlock held while the uidlist or keywords change
//	    dovecot-keywords                  "<index> <name>" lines; index 0 is letter 'a'
//	    subscriptions                     "V\t2\n\n" then names, TAB as hierarchy separator
//	    maildirsize                       Maildir++ quota: usage kept current by deliveries and expunges
//	    maildird-index                    our own: the view (UIDs, file names) of a settled folder (index.go)
//	    maildird-cache                    our own: parsed envelopes and body structures (summarycache.go)
//	    .Family.Photos/                   folder "Family/Photos" (names in modified UTF-7)
//	        maildirfolder cur/ new/ tmp/ dovecot-uidlist maildird-index ...
//
// The maildird-* files are derived data that Dovecot ignores: versioned,
// checksummed, written atomically, and never trusted over the message
// files and the uidlist. A missing, stale or corrupt one is rebuilt.
//
// When maildird runs as root, everything it creates in a user's Maildir
// belongs to the owner of that Maildir++ root (owner.go), so Dovecot and
// the user's own tools can keep using it.
//
// Message files are stored with LF line endings and named
// "<unique>,S=<lf size>,W=<crlf size>:2,<flags>"; the base name (before
// ":2,") is the key the uidlist maps to a UID, so flag changes keep UIDs.
//
// Every write follows one discipline: a unique name in tmp/ (O_EXCL), write,
// fsync the file, rename into place, fsync the directory. Metadata files
// (uidlist, keywords, subscriptions, quota) are replaced whole the same way.
//
// The package uses only its own types: protocols adapt them.
package maildir
