// Package auth owns maildird's users, aliases, password hashes and login
// throttling. One Store (files on disk) and one Authenticator (throttling on
// top of Store.Verify) are shared by SMTP submission, IMAP and POP3.
//
// # Files under the data directory
//
// <data_dir>/passwd is a Dovecot passwd-file, one user per line:
//
//	alice@example.org:{BLF-CRYPT}$2y$10$...
//	bob@example.org:{SHA512-CRYPT}$6$salt$hash:1000:1000::/home/bob::
//
// Only the first two fields are read; any further Dovecot fields (uid, gid,
// gecos, home, shell, extra) are kept as they are, so lines can be copied
// from Dovecot and back. "#" comments and blank lines are kept on rewrite.
//
// <data_dir>/aliases holds one alias per line:
//
//	family@example.org: alice@example.org, bob@example.org
//
// Aliases live in their own file so passwd stays a valid Dovecot
// passwd-file. Both files are mode 0600.
//
// A malformed line never stops the server: it is logged with file:line,
// ignored for lookups, and written back verbatim by every later write, so
// a hand edit is never silently destroyed.
//
// # Writes and reloads
//
// Every write is a read-modify-write under an exclusive flock on
// <data_dir>/.auth.lock, so the CLI and a running server never lose each
// other's updates. A file is replaced by writing a temporary file in the same
// directory, fsyncing it, renaming it over the old one and fsyncing the
// directory. A running Store re-stats both files at most every
// Options.ReloadInterval and re-reads them when their inode, size, mtime or
// ctime changed, so a change made by the CLI is seen within seconds.
//
// # Addresses
//
// Addresses are compared in lower case. A "+tag" in the local part is
// ignored for lookups and logins (alice+news@example.org reaches
// alice@example.org), so user and alias names may not contain '+'.
//
// # Deleting a user that an alias points at
//
// DeleteUser removes the user and leaves aliases alone. Lookup skips alias
// targets in a local domain that are neither a user nor an alias, so an alias
// whose targets are all gone yields ErrNoSuchUser and mail to it is refused,
// not lost. A target in a local domain is one whose domain is in
// Options.Domains or is the domain of any user or alias; every other target
// is a remote forwarding address and is returned as it is.
//
// # Password schemes
//
// New passwords are hashed as {BLF-CRYPT} (bcrypt, "$2y$", as Dovecot writes
// them). {SHA512-CRYPT} and {ARGON2ID} hashes imported from Dovecot are
// verified too. A hash with any other or no scheme never matches, and the
// reason is logged.
package auth
