package queue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"slices"
	"strings"
	"time"
)

// ErrTooBig is a message longer than the size it was started with.
var ErrTooBig = errors.New("queue: message exceeds its maximum size")

// MessageOptions says how a message is queued.
type MessageOptions struct {
	// Sign: DKIM-sign the message with both keys of its From domain when
	// that domain is local (submitted mail). Mail relayed for others (an
	// alias forwarding elsewhere) is not signed.
	Sign bool
}

// Message is one message being queued: Write the bytes (CRLF line ends),
// AddRecipient each remote address, then Commit or Abort. It is
// smtp.Outgoing. Not safe for concurrent use.
type Message struct {
	spool  *Spool
	env    *Envelope
	f      *os.File // in tmp/
	size   int64
	max    int64 // 0: no limit
	sign   bool
	dkim   *DKIM
	onDone func(*Envelope) // after a successful Commit
	err    error
}

// newMessage starts a message in the spool.
func (s *Spool) newMessage(from string, maxSize int64, now time.Time) (*Message, error) {
	id := newID(now)
	f, err := s.createTemp(id + ".msg.")
	if err != nil {
		return nil, err
	}
	return &Message{
		spool: s, f: f, max: maxSize,
		env: &Envelope{ID: id, From: from, Created: now.UTC().Truncate(time.Second)},
	}, nil
}

// ID is the queue ID the message will have.
func (m *Message) ID() string { return m.env.ID }

// Write appends message bytes.
func (m *Message) Write(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.max > 0 && m.size+int64(len(p)) > m.max {
		m.err = ErrTooBig
		return 0, m.err
	}
	n, err := m.f.Write(p)
	m.size += int64(n)
	if err != nil {
		m.err = fmt.Errorf("queue: %w", err)
	}
	return n, m.err
}

// AddRecipient adds an envelope recipient (duplicates count once).
func (m *Message) AddRecipient(addr string) error {
	addr = strings.TrimSpace(addr)
	if !strings.Contains(addr, "@") || strings.ContainsAny(addr, "<> \r\n") {
		return fmt.Errorf("queue: bad recipient address %q", addr)
	}
	if slices.ContainsFunc(m.env.Rcpts, func(r *Recipient) bool { return strings.EqualFold(r.Addr, addr) }) {
		return nil
	}
	m.env.Rcpts = append(m.env.Rcpts, &Recipient{Addr: addr, State: StatePending})
	return nil
}

// Commit makes the message durable in the queue: the message file is
// fsynced and renamed into msg/, then the envelope is written the same
// way; the envelope's appearance is the commit. Only then does it return.
func (m *Message) Commit() error {
	if m.err != nil {
		m.Abort()
		return m.err
	}
	if len(m.env.Rcpts) == 0 {
		m.Abort()
		return errors.New("queue: message without recipients")
	}
	if m.sign && m.dkim != nil {
		if err := m.signDKIM(); err != nil {
			m.Abort()
			return err
		}
	}
	if err := place(m.f, m.spool.msgPath(m.env.ID)); err != nil {
		m.f = nil
		return err
	}
	m.f = nil
	if err := m.spool.writeEnvelope(m.env); err != nil {
		os.Remove(m.spool.msgPath(m.env.ID))
		return err
	}
	if m.onDone != nil {
		m.onDone(m.env)
	}
	return nil
}

// signDKIM signs the message with the keys of its From domain, if any.
func (m *Message) signDKIM() error {
	if _, err := m.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	domain := fromDomain(m.f)
	if domain == "" || !m.dkim.Has(domain) {
		return nil
	}
	if _, err := m.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	sig, err := m.dkim.Sign(domain, bufio.NewReader(m.f))
	if err != nil {
		return err
	}
	m.env.DKIM = sig
	_, err = m.f.Seek(0, io.SeekEnd)
	return err
}

// fromDomain is the domain of the message's From field ("" if none or
// several).
func fromDomain(r io.Reader) string {
	msg, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(r, 1<<20)))
	if err != nil {
		return ""
	}
	list, err := msg.Header.AddressList("From")
	if err != nil || len(list) != 1 {
		return ""
	}
	return domainOf(list[0].Address)
}

// Abort drops the message; nothing reaches the queue.
func (m *Message) Abort() error {
	if m.f == nil {
		return nil
	}
	name := m.f.Name()
	m.f.Close()
	m.f = nil
	return os.Remove(name)
}

// NewMessage starts a message straight in the spool, for a process other
// than the server (sendmail); the running server picks it up within its
// Rescan interval. keys may be nil (nothing signed).
func (s *Spool) NewMessage(from string, maxSize int64, opts MessageOptions, keys *DKIM) (*Message, error) {
	m, err := s.newMessage(from, maxSize, time.Now())
	if err != nil {
		return nil, err
	}
	m.sign, m.dkim = opts.Sign, keys
	return m, nil
}
