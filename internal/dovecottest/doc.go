// Package dovecottest starts a real Dovecot 2.3 as a child process of a test,
// so that maildird's tests can compare their results with the reference
// server over the same Maildir tree (UIDs, UIDVALIDITY, flags, keywords,
// folders, POP3 UIDLs).
//
// Dovecot listens on 127.0.0.1 only, on free ports, with a self-contained
// configuration in a temporary directory; the system configuration and the
// system's Dovecot service are never read or touched. Tests that need Dovecot
// skip when it is not installed, except under CI (the CI environment variable
// is non-empty), where a missing Dovecot fails the test. FORMATS.md records
// what Dovecot writes on disk.
package dovecottest
