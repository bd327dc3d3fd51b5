package queue

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// bounce reports failed recipients to the sender with an RFC 3464
// delivery status notification: into the sender's Maildir when the
// sender is local, through the queue otherwise. A message with the null
// reverse-path is never bounced (RFC 5321 §4.5.5): its failures are only
// logged.
func (q *Queue) bounce(env *Envelope, failed []*Recipient) error {
	if env.From == "" {
		q.log.Info("queue: not bouncing a bounce", "id", env.ID, "failed", len(failed))
		return nil
	}
	dsn, err := q.buildDSN(env, failed)
	if err != nil {
		return err
	}
	if !q.opts.IsLocalDomain(domainOf(env.From)) {
		return q.enqueueDSN(env.From, dsn)
	}
	targets := []string{env.From}
	if q.opts.Lookup != nil {
		if targets, err = q.opts.Lookup(env.From); err != nil {
			return fmt.Errorf("queue: looking up the sender %s: %w", env.From, err)
		}
	}
	var errs []error
	for _, t := range targets {
		if !q.opts.IsLocalDomain(domainOf(t)) {
			errs = append(errs, q.enqueueDSN(t, dsn))
			continue
		}
		if q.opts.Local == nil {
			errs = append(errs, errors.New("queue: no local store for bounces"))
			continue
		}
		local := append([]byte("Return-Path: <>\r\n"), dsn...)
		if _, err := q.opts.Local.Deliver(t, "", bytes.NewReader(local), 0); err != nil {
			errs = append(errs, fmt.Errorf("queue: delivering the bounce to %s: %w", t, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	q.log.Info("queue: bounce sent", "id", env.ID, "to", env.From, "failed", len(failed))
	return nil
}

func (q *Queue) enqueueDSN(to string, dsn []byte) error {
	m, err := q.NewMessage("", 0, MessageOptions{})
	if err != nil {
		return err
	}
	if _, err := m.Write(dsn); err != nil {
		m.Abort()
		return err
	}
	if err := m.AddRecipient(to); err != nil {
		m.Abort()
		return err
	}
	return m.Commit()
}

// maxReturnedHeader bounds the original header returned in a DSN.
const maxReturnedHeader = 64 << 10

// buildDSN writes the multipart/report (RFC 6522) with a text part, the
// message/delivery-status part (RFC 3464 §2) and the original header
// (text/rfc822-headers), CRLF line ends.
func (q *Queue) buildDSN(env *Envelope, failed []*Recipient) ([]byte, error) {
	header, err := q.originalHeader(env.ID)
	if err != nil {
		return nil, err
	}
	now := q.opts.Now()
	var rnd [8]byte
	rand.Read(rnd[:])
	boundary := "=_dsn_" + hex.EncodeToString(rnd[:])
	host := q.opts.Hostname
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	line("From: Mail Delivery System <MAILER-DAEMON@%s>", host)
	line("To: <%s>", env.From)
	line("Subject: Undelivered Mail Returned to Sender")
	line("Date: %s", now.Format(time.RFC1123Z))
	line("Message-ID: <%s.%s.dsn@%s>", env.ID, hex.EncodeToString(rnd[:4]), host)
	line("Auto-Submitted: auto-replied")
	line("MIME-Version: 1.0")
	line("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"", boundary)
	line("")
	line("This is a MIME-encapsulated message.")
	line("")
	line("--%s", boundary)
	line("Content-Type: text/plain; charset=utf-8")
	line("")
	line("This is the mail system at %s.", host)
	line("")
	line("Your message could not be delivered to the following recipients:")
	line("")
	for _, r := range failed {
		line("<%s>: %s", r.Addr, r.Reply)
	}
	line("")
	line("--%s", boundary)
	line("Content-Type: message/delivery-status")
	line("")
	line("Reporting-MTA: dns; %s", host)
	line("Arrival-Date: %s", env.Created.Format(time.RFC1123Z))
	for _, r := range failed {
		line("")
		line("Final-Recipient: rfc822; %s", r.Addr)
		line("Action: failed")
		line("Status: %s", dsnStatus(r.Status))
		if r.RemoteMTA != "" {
			line("Remote-MTA: dns; %s", r.RemoteMTA)
		}
		if r.Reply != "" {
			kind := "X-maildird"
			if r.RemoteMTA != "" {
				kind = "smtp"
			}
			line("Diagnostic-Code: %s; %s", kind, oneLine(r.Reply))
		}
		line("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
	}
	line("")
	line("--%s", boundary)
	line("Content-Type: text/rfc822-headers")
	line("")
	b.Write(header)
	line("")
	line("--%s--", boundary)
	return []byte(b.String()), nil
}

// dsnStatus keeps a failed recipient's status a failure class (4 or 5).
func dsnStatus(s string) string {
	if strings.HasPrefix(s, "5.") || strings.HasPrefix(s, "4.") {
		return s
	}
	return "5.0.0"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// originalHeader reads the queued message's header (CRLF ends, no final
// empty line), bounded by maxReturnedHeader.
func (q *Queue) originalHeader(id string) ([]byte, error) {
	f, err := os.Open(q.spool.msgPath(id))
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(io.LimitReader(f, maxReturnedHeader))
	var out bytes.Buffer
	for {
		l, err := r.ReadBytes('\n')
		trimmed := bytes.TrimRight(l, "\r\n")
		if len(trimmed) == 0 {
			break
		}
		out.Write(trimmed)
		out.WriteString("\r\n")
		if err != nil {
			break
		}
	}
	return out.Bytes(), nil
}
