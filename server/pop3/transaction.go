package pop3

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// stat counts the messages not marked deleted and their size.
func (s *session) stat() (count int, size int64) {
	for i, m := range s.msgs {
		if !s.deleted[i] {
			count++
			size += m.Size
		}
	}
	return count, size
}

// msgArg parses a message number (RFC 1939 §5: 1-based, of the maildrop
// as at login) and refuses deleted messages. It returns the index.
func (s *session) msgArg(arg string) (int, error) {
	for i := 0; i < len(arg); i++ {
		if arg[i] < '0' || arg[i] > '9' {
			return 0, fmt.Errorf("invalid message number %s", printable(arg))
		}
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(s.msgs) {
		return 0, fmt.Errorf("no such message %s", printable(arg))
	}
	if s.deleted[n-1] {
		return 0, fmt.Errorf("message %d already deleted", n)
	}
	return n - 1, nil
}

func (s *session) cmdNoop(args []string) error {
	if len(args) != 0 {
		return s.fail("NOOP takes no arguments")
	}
	s.reply("+OK")
	return nil
}

func (s *session) cmdStat(args []string) error {
	if len(args) != 0 {
		return s.fail("STAT takes no arguments")
	}
	count, size := s.stat()
	s.reply("+OK %d %d", count, size)
	return nil
}

func (s *session) cmdList(args []string) error {
	return s.listing(args, "LIST", func(i int) string { return strconv.FormatInt(s.msgs[i].Size, 10) })
}

// UIDL is Dovecot 2.3's default %08Xu%08Xv in lowercase (DESIGN.md §3),
// so clients that move from Dovecot keep their downloaded-message lists.
func (s *session) cmdUidl(args []string) error {
	validity := s.mbox.UIDValidity()
	return s.listing(args, "UIDL", func(i int) string { return fmt.Sprintf("%08x%08x", s.msgs[i].UID, validity) })
}

// listing answers LIST and UIDL: one line for a given message, or the
// multi-line list of every message not deleted.
func (s *session) listing(args []string, name string, value func(i int) string) error {
	switch len(args) {
	case 0:
		count, size := s.stat()
		s.reply("+OK %d messages (%d octets)", count, size)
		for i := range s.msgs {
			if !s.deleted[i] {
				s.reply("%d %s", i+1, value(i))
			}
		}
		s.reply(".")
		return nil
	case 1:
		i, err := s.msgArg(args[0])
		if err != nil {
			return s.fail("%v", err)
		}
		s.reply("+OK %d %s", i+1, value(i))
		return nil
	}
	return s.fail("usage: %s [message]", name)
}

func (s *session) cmdDele(args []string) error {
	if len(args) != 1 {
		return s.fail("usage: DELE message")
	}
	i, err := s.msgArg(args[0])
	if err != nil {
		return s.fail("%v", err)
	}
	s.deleted[i] = true
	s.reply("+OK message %d deleted", i+1)
	return nil
}

func (s *session) cmdRset(args []string) error {
	if len(args) != 0 {
		return s.fail("RSET takes no arguments")
	}
	clear(s.deleted)
	count, size := s.stat()
	s.reply("+OK maildrop has %d messages (%d octets)", count, size)
	return nil
}

func (s *session) cmdRetr(args []string) error {
	if len(args) != 1 {
		return s.fail("usage: RETR message")
	}
	i, err := s.msgArg(args[0])
	if err != nil {
		return s.fail("%v", err)
	}
	if err := s.send(i, -1); err != nil {
		return err
	}
	s.retrieved[i] = true
	return nil
}

// RFC 1939 §7: TOP sends the header, the blank line and n body lines.
func (s *session) cmdTop(args []string) error {
	if len(args) != 2 {
		return s.fail("usage: TOP message lines")
	}
	i, err := s.msgArg(args[0])
	if err != nil {
		return s.fail("%v", err)
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		return s.fail("invalid line count %s", printable(args[1]))
	}
	return s.send(i, n)
}

// send streams message i, dot-stuffed, with at most bodyLines body lines
// (-1: all). A message that vanished under us (expunged by an IMAP
// session) gets -ERR; a failure after "+OK" has been sent can only end
// the connection, since the client cannot tell a cut message otherwise.
func (s *session) send(i, bodyLines int) error {
	rc, err := s.mbox.Open(s.msgs[i].UID)
	if err != nil {
		s.log.Warn("pop3: opening a message", "uid", s.msgs[i].UID, "err", err)
		return s.fail("[SYS/TEMP] message %d is no longer available", i+1)
	}
	defer rc.Close()
	if bodyLines < 0 {
		s.reply("+OK %d octets", s.msgs[i].Size)
	} else {
		s.reply("+OK")
	}
	if err := writeDotStuffed(s.w, rc, bodyLines); err != nil {
		s.log.Error("pop3: sending a message", "uid", s.msgs[i].UID, "err", err)
		return err
	}
	return nil
}

// writeDotStuffed copies a CRLF message to w with RFC 1939 §3
// byte-stuffing and the terminating ".", streaming line by line. With
// bodyLines >= 0 it stops after that many lines past the header.
func writeDotStuffed(w *bufio.Writer, r io.Reader, bodyLines int) error {
	br := bufio.NewReaderSize(r, 16<<10)
	atLineStart, inBody, lastLF := true, false, true
	sent := 0
	for {
		if inBody && bodyLines >= 0 && sent >= bodyLines && atLineStart {
			break
		}
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atLineStart && chunk[0] == '.' {
				w.WriteByte('.')
			}
			complete := chunk[len(chunk)-1] == '\n'
			if atLineStart && complete && !inBody && (len(chunk) == 2 && chunk[0] == '\r' || len(chunk) == 1) {
				inBody = true // the blank line ending the header
			} else if inBody && complete {
				sent++
			}
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			atLineStart, lastLF = complete, complete
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if !lastLF {
		w.WriteString("\r\n")
	}
	_, err := w.WriteString(".\r\n")
	return err
}
