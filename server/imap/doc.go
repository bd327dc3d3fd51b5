// Package imap serves users' Maildirs over IMAP4rev1 and IMAP4rev2 (RFC
// 3501, RFC 9051) on ports 143 (STARTTLS) and 993 (implicit TLS).
//
// The protocol engine is go-imap's imapserver; this package is its
// Session over package maildir, one file per command group (select.go,
// store.go, copy.go, expunge.go, append.go, list.go, status.go, idle.go,
// ...). FETCH data items and SEARCH keys live in fetch.go, wire.go,
// sections.go and search.go, behind two functions: writeFetchItems and
// searchMatch. FETCH responses are written here, not by go-imap, byte for
// byte as Dovecot writes them (fetch.go says how).
//
// States (RFC 3501 §3): not authenticated until LOGIN or AUTHENTICATE
// PLAIN succeeds, which needs TLS unless the client is on the same machine
// or plaintext is allowed (LOGINDISABLED is advertised otherwise);
// authenticated; selected after SELECT or EXAMINE; logout.
//
// Sessions that select the same folder share one maildir.Mailbox view
// and one imapserver.MailboxTracker (maildir.go): the tracker numbers the
// messages of that view, and each session's SessionTracker queues the
// EXISTS, EXPUNGE, FETCH FLAGS and FLAGS updates its client has yet to
// see, translating sequence numbers between the two. Updates are written
// after every command (Poll) and at once during IDLE, where a goroutine
// per folder waits on maildir.Mailbox.Wait for changes made by other
// programs.
//
// Limits: a connection must log in within Options.LoginTimeout (60 s) and
// imapserver drops one silent for 30 s before that; an authenticated one
// is logged out after Options.Autologout (30 minutes) without a command,
// IDLE excepted. Connections per client address are capped by package
// server's listener group.
package imap
