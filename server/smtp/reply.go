package smtp

// Replies: go-smtp's pass through the front, which follows the dialogue
// from them, adjusts EHLO and counts errors; the front's own are written
// the same way.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Write receives go-smtp's replies, one line per call in practice (it
// flushes after each line), and passes them on after looking at them.
func (f *front) Write(p []byte) (int, error) {
	if err := f.ensureHandshake(); err != nil {
		return 0, err
	}
	if f.isClosed() {
		return 0, errClosed
	}
	f.wbuf = append(f.wbuf, p...)
	for {
		i := bytes.IndexByte(f.wbuf, '\n')
		if i < 0 {
			break
		}
		line := trimEOL(f.wbuf[:i+1])
		err := f.engineReply(string(line))
		f.wbuf = f.wbuf[i+1:]
		if err != nil {
			f.wbuf = nil
			return 0, err
		}
	}
	if len(f.wbuf) == 0 {
		f.wbuf = nil
	}
	return len(p), nil
}

// engineReply looks at one reply line from go-smtp: it keeps the front's
// view of the dialogue, adjusts EHLO, and counts errors.
func (f *front) engineReply(line string) error {
	switch {
	case line == "250-STARTTLS" && f.tlsState != nil:
		return nil // RFC 3207 §4.2: not advertised once TLS is on
	case strings.HasPrefix(line, "250-SIZE ") || strings.HasPrefix(line, "250 SIZE "):
		line = line[:9] + strconv.FormatInt(f.s.limits.MaxMessageSize, 10)
	case strings.HasPrefix(line, "500 5.5.1 Too many errors"):
		// go-smtp's own error limit (not reached while the front answers
		// bad commands itself); end as this server does.
		return f.closeWith(421, enhTooManyErrors, "Too many errors, closing connection")
	}
	return f.emit(line, true)
}

// sendReply writes a reply of the front's own.
func (f *front) sendReply(code int, enh gosmtp.EnhancedCode, text string) error {
	return f.emit(fmt.Sprintf("%d %d.%d.%d %s", code, enh[0], enh[1], enh[2], text), true)
}

// emit writes one reply line and, for a final line, updates the state
// that depends on replies and counts errors.
// The lines of a multi-line reply (EHLO) go out together with its last
// line: one write, one TLS record.
func (f *front) emit(line string, count bool) error {
	f.out = append(append(f.out, line...), '\r', '\n')
	code, final := replyCode(line)
	if !final && len(f.out) < 4096 {
		return nil
	}
	f.raw.SetWriteDeadline(time.Now().Add(f.s.limits.CommandTimeout))
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	_, err := c.Write(f.out)
	f.out = f.out[:0]
	if err != nil {
		f.Close()
		return errClosed
	}
	if !final {
		return nil
	}
	f.log.Debug("smtp: -> " + truncate(line, 200))
	switch {
	case code == 354 && f.expect == expectData:
		f.dot, f.lineLen = dotBeginLine, 0
		f.setMode(modeData)
		f.inData.Store(true)
		f.expect = expectNone
		return nil
	case code == 334 && f.expect == expectAuth:
		f.setMode(modeAuthLine)
		return nil
	case f.expect == expectBDAT:
		f.setBDATOpen(code == 250 && !f.chunkLast)
		if code == 250 && f.chunkLast {
			f.junk = 0 // a message went through
		}
	case f.inData.Load():
		f.inData.Store(false)
		if code == 250 {
			f.junk = 0
		}
	}
	f.expect = expectNone
	if count && code >= 400 && code != 421 {
		return f.countError()
	}
	return nil
}

// countError counts one error; at Limits.MaxErrors the connection ends.
func (f *front) countError() error {
	f.errors++
	if f.errors >= f.s.limits.MaxErrors {
		f.log.Info("smtp: too many errors, closing", "errors", f.errors)
		return f.closeWith(421, enhTooManyErrors, "Too many errors, closing connection")
	}
	return nil
}

// replyCode parses "250-..." or "250 ...": the code and whether this is
// the last line of the reply.
func replyCode(line string) (code int, final bool) {
	if len(line) < 3 {
		return 0, false
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, false
	}
	return code, len(line) == 3 || line[3] == ' '
}

// closeWith sends a last reply and closes the connection.
func (f *front) closeWith(code int, enh gosmtp.EnhancedCode, text string) error {
	if !f.isClosed() {
		f.emit(fmt.Sprintf("%d %d.%d.%d %s", code, enh[0], enh[1], enh[2], text), false)
		f.Close()
	}
	return errClosed
}
