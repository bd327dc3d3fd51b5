package smtp

// The front sits between the socket and go-smtp. go-smtp is the protocol
// engine (command parsing, EHLO, MAIL/RCPT parameters, DATA dot-unstuffing,
// BDAT, the SASL exchange), but it has no hook for several rules of this
// server, so the front implements them on the byte stream it hands to
// go-smtp, one command line at a time:
//
//   - TLS: implicit TLS and STARTTLS are done here, so the front always sees
//     plain text (go-smtp would wrap its own tls.Conn and hide the dialogue).
//   - timeouts per read, for commands and for message data (go-smtp sets one
//     deadline per command, which a long DATA would have to fit in);
//   - HTTP requests get a 5xx and the connection is closed (go-smtp would
//     answer each header line);
//   - unknown and malformed commands are answered here, so every error
//     counts towards Limits.MaxErrors and the connection ends with 421
//     (go-smtp's own counter is fixed at 3 and ends with 500);
//   - HELP gets 214 (go-smtp answers 502), junk commands are bounded;
//   - Shutdown answers idle connections 421 at a command boundary;
//   - EHLO keeps advertising the real SIZE and stops advertising STARTTLS
//     once TLS is on.
//
// To know where command lines are, the front follows go-smtp's state from
// the replies it writes: after "354" comes message data up to CRLF.CRLF
// (the same state machine as go-smtp's DATA reader), after "334" one SASL
// line, and after a BDAT command the chunk go-smtp reads (the same argument
// rules as go-smtp's handleBdat). Everything runs in go-smtp's connection
// goroutine except wake and Close.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxCommandLine bounds a command line, CRLF included: RFC 4954 §4 lets
// AUTH lines reach 12288 octets; other commands are far shorter.
const maxCommandLine = 12288

// errClosed is what go-smtp gets once the front closed the connection
// itself (after a final reply); it wraps net.ErrClosed so go-smtp ends the
// connection quietly.
var errClosed = fmt.Errorf("smtp: connection closed by the server: %w", net.ErrClosed)

type readMode int

const (
	modeCommand  readMode = iota // command lines, checked one by one
	modeData                     // after 354, message bytes up to CRLF.CRLF
	modeChunk                    // a BDAT chunk of known size
	modeAuthLine                 // one SASL response line after 334
)

// expectation is what the last command handed to go-smtp waits for.
type expectation int

const (
	expectNone expectation = iota
	expectData
	expectAuth
	expectBDAT
)

// go-smtp's DATA reader states (data.go), mirrored to find CRLF.CRLF.
const (
	dotBeginLine = iota
	dotDot
	dotDotCR
	dotCR
	dotData
	dotEOF
)

// front is one connection's transport and abuse layer; go-smtp sees it as
// its net.Conn.
type front struct {
	s      *Server
	raw    net.Conn // as accepted; deadlines are set on it
	id     string
	log    *slog.Logger
	remote netip.Addr
	local  netip.Addr
	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc

	mu       sync.Mutex // guards conn, mode, closed, bdatOpen against wake and Close
	conn     net.Conn   // raw, or a *tls.Conn over raw
	mode     readMode
	closed   bool
	bdatOpen bool // a BDAT transfer is between chunks
	closeOne sync.Once
	// inData is set between 354 and the reply to the message; Data reads
	// it (from go-smtp's BDAT goroutine too) to know DATA from BDAT.
	inData atomic.Bool

	// Used only by go-smtp's connection goroutine.
	br           *bufio.Reader
	tlsConn      *tls.Conn // implicit TLS, handshake pending or done
	tlsState     *tls.ConnectionState
	lineBuf      []byte
	pending      []byte // the command line being handed to go-smtp
	chunkNext    int64  // BDAT chunk that follows the pending line; -1: none
	chunkLeft    int64
	chunkLast    bool
	dot          int
	lineLen      int
	expect       expectation
	greeting     string // "HELO" or "EHLO", as last sent
	needEHLO     bool   // after STARTTLS, until HELO/EHLO
	errors, junk int
	wbuf         []byte // reply bytes from go-smtp not yet a whole line
	out          []byte // reply lines not yet written
	session      *session
}

func newFront(s *Server, c net.Conn) *front {
	ctx, cancel := context.WithCancel(context.Background())
	f := &front{
		s: s, raw: c, conn: c, id: newID(), ctx: ctx, cancel: cancel,
		remote: addrOf(c.RemoteAddr()), local: addrOf(c.LocalAddr()), chunkNext: -1,
	}
	f.log = s.log.With("conn", f.id, "remote", f.remote.String())
	if tc, ok := c.(*tls.Conn); ok {
		f.tlsConn = tc
	} else if s.opts.Mode == SubmissionTLS {
		f.tlsConn = tls.Server(c, s.opts.TLS)
		f.conn = f.tlsConn
	}
	f.br = bufio.NewReaderSize(f.conn, 4096)
	f.log.Debug("smtp: connected")
	return f
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// newID returns a short random identifier for logs and Received ids.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (f *front) LocalAddr() net.Addr { return f.raw.LocalAddr() }

func (f *front) RemoteAddr() net.Addr { return f.raw.RemoteAddr() }

func (f *front) SetDeadline(t time.Time) error { return f.raw.SetDeadline(t) }

func (f *front) SetReadDeadline(t time.Time) error { return f.raw.SetReadDeadline(t) }

func (f *front) SetWriteDeadline(t time.Time) error { return f.raw.SetWriteDeadline(t) }

// Close closes the connection once; go-smtp calls it after QUIT, at the
// end of the connection, and Server.Close from another goroutine.
func (f *front) Close() error {
	var err error
	f.closeOne.Do(func() {
		f.mu.Lock()
		f.closed = true
		c := f.conn
		f.mu.Unlock()
		f.cancel()
		f.s.untrack(f)
		err = c.Close()
		f.log.Debug("smtp: closed")
	})
	return err
}

func (f *front) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// wake interrupts a wait for the next command so that it sees the server
// is shutting down. Called by Shutdown from another goroutine.
func (f *front) wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && f.mode == modeCommand && !f.bdatOpen {
		f.raw.SetReadDeadline(time.Now())
	}
}

// ensureHandshake completes implicit TLS before the first byte.
func (f *front) ensureHandshake() error {
	if f.tlsConn == nil || f.tlsState != nil {
		return nil
	}
	f.raw.SetDeadline(time.Now().Add(f.s.limits.CommandTimeout))
	if err := f.tlsConn.HandshakeContext(f.ctx); err != nil {
		f.log.Debug("smtp: TLS handshake failed", "err", err)
		f.Close()
		return errClosed
	}
	st := f.tlsConn.ConnectionState()
	f.tlsState = &st
	return nil
}

// Read hands go-smtp the next command line, SASL line, message bytes or
// chunk bytes, depending on where the dialogue is.
func (f *front) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := f.ensureHandshake(); err != nil {
		return 0, err
	}
	for {
		if f.isClosed() {
			return 0, errClosed
		}
		if len(f.pending) > 0 {
			n := copy(p, f.pending)
			f.pending = f.pending[n:]
			return n, nil
		}
		if f.chunkNext >= 0 {
			f.setMode(modeChunk)
			f.chunkLeft, f.chunkNext = f.chunkNext, -1
		}
		switch f.currentMode() {
		case modeData:
			return f.readData(p)
		case modeChunk:
			if f.chunkLeft == 0 {
				f.setMode(modeCommand)
				continue
			}
			return f.readChunk(p)
		case modeAuthLine:
			line, err := f.readLine(modeAuthLine)
			if err != nil {
				return 0, err
			}
			f.log.Debug("smtp: <- <SASL response redacted>")
			f.setMode(modeCommand)
			f.pending = line
		default:
			line, err := f.readLine(modeCommand)
			if err != nil {
				return 0, err
			}
			pass, err := f.command(line)
			if err != nil {
				return 0, err
			}
			if pass {
				f.pending = f.rewrite(line)
			}
		}
	}
}

func (f *front) currentMode() readMode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mode
}

// setMode is the one place the read mode changes.
func (f *front) setMode(m readMode) {
	f.mu.Lock()
	from := f.mode
	f.mode = m
	f.mu.Unlock()
	if from != m {
		f.log.Debug("smtp: read mode", "from", from.String(), "to", m.String())
	}
}

func (m readMode) String() string {
	switch m {
	case modeCommand:
		return "command"
	case modeData:
		return "data"
	case modeChunk:
		return "chunk"
	case modeAuthLine:
		return "sasl"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// armRead sets the read deadline for mode m. For a command it first
// checks for shutdown, under the same lock as wake, so a shutdown is never
// missed: either this sees closing, or wake's deadline comes after ours.
func (f *front) armRead(m readMode) (shutdown bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m == modeCommand && !f.bdatOpen && f.s.closing.Load() {
		return true
	}
	d := f.s.limits.CommandTimeout
	if m == modeData || m == modeChunk || (m == modeCommand && f.bdatOpen) {
		d = f.s.limits.DataTimeout
	}
	f.raw.SetReadDeadline(time.Now().Add(d))
	return false
}

// readLine reads one line, CRLF included, of at most maxCommandLine bytes.
func (f *front) readLine(m readMode) ([]byte, error) {
	if f.armRead(m) {
		return nil, f.closeWith(421, enhShutdown, f.s.opts.Hostname+" Service shutting down, try again later")
	}
	line := f.lineBuf[:0]
	for {
		frag, err := f.br.ReadSlice('\n')
		line = append(line, frag...)
		f.lineBuf = line
		if len(line) > maxCommandLine {
			return nil, f.closeWith(500, enhBadSyntax, "Line too long, closing connection")
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, f.readFailed(err, m)
		}
	}
}

// readFailed turns a read error into the connection's end: a timeout (or
// the shutdown wake-up) gets its 421, anything else closes quietly.
func (f *front) readFailed(err error, m readMode) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !f.isClosed() {
		if m == modeCommand && f.s.closing.Load() && !f.bdatOpen {
			return f.closeWith(421, enhShutdown, f.s.opts.Hostname+" Service shutting down, try again later")
		}
		return f.closeWith(421, enhTimeout, "Timeout waiting for the client, closing connection")
	}
	f.Close()
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return errClosed
}

// readData passes message bytes up to and including the CRLF.CRLF that
// go-smtp's DATA reader stops at, and enforces the line length.
func (f *front) readData(p []byte) (int, error) {
	if f.armRead(modeData) {
		return 0, errClosed // not reached: armRead never stops data
	}
	if _, err := f.br.Peek(1); err != nil {
		return 0, f.readFailed(err, modeData)
	}
	buf, _ := f.br.Peek(min(f.br.Buffered(), len(p)))
	n := 0
	for n < len(buf) && f.dot != dotEOF {
		c := buf[n]
		n++
		f.lineLen++
		if c == '\n' {
			f.lineLen = 0
		} else if f.lineLen > f.s.limits.MaxLineLength {
			return 0, f.closeWith(554, enhMediaError, "Message line too long, closing connection")
		}
		f.dot = nextDotState(f.dot, c)
	}
	copy(p, buf[:n])
	f.br.Discard(n)
	if f.dot == dotEOF {
		f.setMode(modeCommand)
	}
	return n, nil
}

// nextDotState is go-smtp's dataReader transition (data.go), byte for byte.
func nextDotState(state int, c byte) int {
	switch state {
	case dotBeginLine:
		switch c {
		case '.':
			return dotDot
		case '\r':
			return dotCR
		}
		return dotData
	case dotDot:
		if c == '\r' {
			return dotDotCR
		}
		return dotData
	case dotDotCR:
		if c == '\n' {
			return dotEOF
		}
		return dotData
	case dotCR:
		if c == '\n' {
			return dotBeginLine
		}
		return dotData
	case dotData:
		if c == '\r' {
			return dotCR
		}
		return dotData
	}
	return state
}

func (f *front) readChunk(p []byte) (int, error) {
	f.armRead(modeChunk)
	if int64(len(p)) > f.chunkLeft {
		p = p[:f.chunkLeft]
	}
	n, err := f.br.Read(p)
	f.chunkLeft -= int64(n)
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, f.readFailed(err, modeChunk)
}

func (f *front) setBDATOpen(v bool) {
	f.mu.Lock()
	f.bdatOpen = v
	f.mu.Unlock()
}
