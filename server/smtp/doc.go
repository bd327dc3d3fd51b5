// Package smtp is maildird's SMTP server: MX intake on port 25 and message
// submission on 587 (STARTTLS) and 465 (implicit TLS). Submission is a
// Mode of the same engine, not a second implementation.
//
// # Layers
//
// Each connection passes through three layers:
//
//   - front.go, the front: TLS (implicit and STARTTLS), per-read timeouts
//     (RFC 5321 §4.5.3.2), command and message line limits, HTTP request
//     refusal, HELP, unknown commands, the error and junk-command limits
//     ending in 421, and the 421 at shutdown. go-smtp has no hooks for
//     these, so the front hands go-smtp the byte stream one command line
//     at a time and follows the dialogue from go-smtp's replies.
//   - github.com/emersion/go-smtp, the protocol engine: EHLO, MAIL and
//     RCPT parsing and parameters (SIZE, BODY, SMTPUTF8), DATA with
//     dot-unstuffing, BDAT (CHUNKING), the SASL exchange, VRFY (252), the
//     obsolete SEND, SOML, SAML, TURN and EXPN (502).
//   - session.go and data.go, the policy of the Mode and the delivery:
//     which recipients are local (Directory), relay refusal on port 25,
//     AUTH PLAIN and LOGIN only where a password may travel (DESIGN.md §5),
//     sender ownership on submission, and the message stream into the
//     Mailstore (and the queue, once there is one).
//
// # The message stream
//
// Nothing is buffered whole. As the message arrives, bare LF becomes CRLF,
// its size is counted against Limits.MaxMessageSize (552 5.3.4 as soon as
// it is passed), the header is scanned line by line for Received fields
// (loop: 554 5.4.6) and, on submission, for From, Date and Message-ID.
// Each copy starts with Return-Path and Received (RFC 5321 §4.4); the
// rest is kept byte for byte. 250 is answered after Delivery.Commit, which
// means the message is fsynced in every recipient's Maildir; any failure
// answers 451 4.3.0 and aborts, leaving nothing visible.
//
// # Wiring (main)
//
//	srv := smtp.New(smtp.Options{
//		Hostname: cfg.Server.Hostname, Mode: smtp.MX,
//		TLS: source.Config(mdtls.ConfigOptions{SessionTickets: false}),
//		Limits: smtp.Limits{MaxMessageSize: cfg.Limits.MaxMessageSize, MaxRecipients: cfg.Limits.MaxRecipients},
//		Store: smtp.StoreFunc(func(max int64) (smtp.Delivery, error) {
//			d, err := mailStore.NewDelivery(max)
//			if err != nil {
//				return nil, err
//			}
//			return d, nil
//		}),
//		Directory: authStore, Auth: authenticator, IsLocalDomain: cfg.IsLocalDomain,
//		AllowPlaintext: cfg.Auth.AllowPlaintext, Postmaster: "postmaster@" + cfg.Server.Domains[0],
//		Logger: logger,
//	})
//	// server.Listener{Name: "smtp", Addr: cfg.Listen.SMTP, Service: srv}
//
// For 465 either pass Mode SubmissionTLS with TLS set and a plain
// listener, or let server.Group wrap the listener in TLS; both work.
package smtp
