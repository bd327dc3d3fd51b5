// Package queue is maildird's outbound mail: a durable spool, delivery
// workers, retries, bounces (RFC 3464 DSNs) and DKIM signing.
//
// # The spool (<data_dir>/queue)
//
//	tmp/            files being written; a leftover older than an hour is removed
//	msg/<id>        the message as received (CRLF line ends), never changed
//	env/<id>.json   the envelope and the state of every recipient
//	flush           present: `maildird queue flush` asks for a retry now
//	lock            flock: an envelope rewrite and a delete exclude each other
//
// A message is committed in two atomic steps, each a temporary file in
// tmp/, fsync, rename, fsync of the directory: first msg/<id>, then
// env/<id>.json. The envelope's appearance is the commit: the SMTP 250 is
// sent only after it. A message file without an envelope is an
// interrupted commit and is removed after an hour (sendmail may be
// writing it from another process).
//
// The envelope (format version 1, JSON) holds the sender, the arrival
// time, the DKIM-Signature fields to send before the message, and per
// recipient its state (pending, sent, failed), attempts, next attempt,
// last reply and whether a bounce reported it. After every attempt the
// whole envelope is rewritten atomically, so a recipient that got 250 is
// recorded as sent before anything else happens: a restart (or a crash)
// never sends to it again. The one window left is between the remote 250
// and that write; a crash there can repeat that one message to that one
// server, the at-least-once every MTA has. When no recipient is pending
// and every failure is reported, the envelope and then the message go.
//
// # Delivery
//
// The scheduler runs at most one delivery per destination domain at a
// time (Workers in all): one connection carries all of a message's
// recipients at that domain. Direct delivery tries the MX hosts in
// dnsresolv.MXHosts order and each host's addresses, says EHLO with the
// hostname, uses STARTTLS when offered (opportunistic, RFC 7435: the
// certificate is checked and the result logged, not enforced), honours
// SIZE and sends one command at a time, so PIPELINING is never
// misused. A smarthost gets implicit TLS on port 465 (or smarthost_tls =
// implicit) and STARTTLS elsewhere, required and verified against the
// system roots; never clear text. AUTH PLAIN, or LOGIN.
//
// Replies are per recipient: 5xx fails it, 4xx and connection failures
// retry after about 1m, 5m, 15m, 30m, 1h, then every 2-4h, until 5 days
// after arrival (then 4.4.7). Failures are reported to the sender in one
// DSN per attempt: into the sender's Maildir for a local sender, queued
// otherwise; never for a message with the null reverse-path.
//
// # DKIM
//
// LoadDKIM keeps an Ed25519 and an RSA-2048 key per local domain in
// <data_dir>/dkim. A message queued with MessageOptions.Sign (submission)
// whose From domain is local is signed with both at Commit,
// relaxed/relaxed; the signatures are kept in the envelope and sent
// before the message.
package queue
