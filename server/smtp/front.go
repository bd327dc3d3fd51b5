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
	"bytes"
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
	"time"

	gosmtp "github.com/emersion/go-smtp"
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

// httpMethods start the request line of an HTTP client that was pointed
// at an SMTP port (or a cross-protocol attack from a web page).
var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// knownVerbs are the commands handed to go-smtp (or handled here).
var knownVerbs = map[string]bool{
	"HELO": true, "EHLO": true, "LHLO": true, "MAIL": true, "RCPT": true,
	"DATA": true, "BDAT": true, "RSET": true, "NOOP": true, "QUIT": true,
	"VRFY": true, "EXPN": true, "HELP": true, "AUTH": true, "STARTTLS": true,
	"SEND": true, "SOML": true, "SAML": true, "TURN": true,
}

// junkVerbs do nothing for mail delivery; past Limits.MaxJunkCommands
// since the last message accepted, each one counts as an error (Postfix's
// smtpd_junk_command_limit).
var junkVerbs = map[string]bool{"NOOP": true, "RSET": true, "VRFY": true, "EXPN": true, "HELP": true}

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
	inData       bool   // between 354 and the reply to the message
	greeting     string // "HELO" or "EHLO", as last sent
	needEHLO     bool   // after STARTTLS, until HELO/EHLO
	errors, junk int
	wbuf         []byte
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

func (f *front) LocalAddr() net.Addr                { return f.raw.LocalAddr() }
func (f *front) RemoteAddr() net.Addr               { return f.raw.RemoteAddr() }
func (f *front) SetDeadline(t time.Time) error      { return f.raw.SetDeadline(t) }
func (f *front) SetReadDeadline(t time.Time) error  { return f.raw.SetReadDeadline(t) }
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

// command checks one command line before go-smtp sees it. It reports
// whether to hand the line on; otherwise it has answered it itself.
func (f *front) command(line []byte) (pass bool, err error) {
	text := string(trimEOL(line))
	f.traceCommand(text)
	if word, _, _ := strings.Cut(text, " "); httpMethods[word] {
		f.log.Info("smtp: HTTP request on an SMTP port", "line", truncate(text, 80))
		return false, f.closeWith(500, enhNotImplemented, "This is an SMTP server, not a web server; closing connection")
	}
	verb, arg, ok := parseCommand(text)
	if !ok || !knownVerbs[verb] {
		msg := "Command unrecognized"
		if !ok {
			msg = "Bad command syntax"
		}
		return false, f.sendReply(500, enhBadSyntax, msg)
	}
	if junkVerbs[verb] {
		f.junk++
		if f.junk > f.s.limits.MaxJunkCommands {
			if err := f.countError(); err != nil {
				return false, err
			}
		}
	}
	switch verb {
	case "STARTTLS":
		return false, f.startTLS(text)
	case "HELP":
		// RFC 5321 §4.1.1.8: 211 or 214. Nothing secret in it.
		return false, f.sendReply(214, enhOK, "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH HELP; see RFC 5321")
	case "HELO", "EHLO":
		f.needEHLO = false
		f.greeting = verb
		f.setBDATOpen(false)
	case "MAIL", "AUTH":
		if f.needEHLO {
			// RFC 3207 §4.2: after TLS the client starts again with EHLO.
			return false, f.sendReply(503, enhBadSequence, "Send EHLO again after STARTTLS")
		}
	case "RSET":
		f.setBDATOpen(false)
	}
	f.expect = expectNone
	switch verb {
	case "DATA":
		f.expect = expectData
	case "AUTH":
		f.expect = expectAuth
	case "BDAT":
		f.expect = expectBDAT
		if n, last, ok := bdatChunk(arg); ok {
			f.chunkNext, f.chunkLast = n, last
		}
	}
	return true, nil
}

// rewrite adapts a command line before go-smtp parses it. Only one case:
// RFC 5321 §4.5.1 requires RCPT TO:<Postmaster> without a domain to be
// accepted, and go-smtp's path parser demands a domain, so the path is
// replaced by Options.Postmaster.
func (f *front) rewrite(line []byte) []byte {
	pm := f.s.opts.Postmaster
	if pm == "" || len(line) < 8 || !strings.EqualFold(string(line[:8]), "RCPT TO:") {
		return line
	}
	rest := strings.TrimLeft(string(line[8:]), " ")
	if len(rest) < 12 || !strings.EqualFold(rest[:12], "<postmaster>") {
		return line
	}
	return []byte("RCPT TO:<" + pm + ">" + rest[12:])
}

func (f *front) setBDATOpen(v bool) {
	f.mu.Lock()
	f.bdatOpen = v
	f.mu.Unlock()
}

// parseCommand splits a command line the way go-smtp's parseCmd does, so
// that every line handed on parses there: a four-letter verb alone or
// followed by a space, or anything starting with STARTTLS.
func parseCommand(line string) (verb, arg string, ok bool) {
	if strings.HasPrefix(strings.ToUpper(line), "STARTTLS") {
		return "STARTTLS", "", true
	}
	switch {
	case len(line) == 4:
		return strings.ToUpper(line), "", true
	case len(line) < 6 || line[4] != ' ':
		return "", "", false
	}
	return strings.ToUpper(line[:4]), strings.TrimSpace(line[5:]), true
}

// bdatChunk reports the size of the chunk go-smtp reads after a BDAT
// command with these arguments (handleBdat: it reads the chunk, even to
// discard it, once the arguments parse).
func bdatChunk(arg string) (size int64, last, ok bool) {
	args := strings.Fields(arg)
	if len(args) == 0 || len(args) > 2 {
		return 0, false, false
	}
	if len(args) == 2 {
		if !strings.EqualFold(args[1], "LAST") {
			return 0, false, false
		}
		last = true
	}
	n, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		return 0, false, false
	}
	return int64(n), last, true
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// traceCommand logs a command at debug level, without credentials.
func (f *front) traceCommand(text string) {
	if !f.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if len(text) >= 4 && strings.EqualFold(text[:4], "AUTH") {
		if mech, _, _ := strings.Cut(strings.TrimSpace(text[4:]), " "); mech != "" {
			text = "AUTH " + mech + " <redacted>"
		}
	}
	f.log.Debug("smtp: <- " + truncate(text, 200))
}

// startTLS performs STARTTLS (RFC 3207) here rather than in go-smtp, so
// that the front keeps seeing the dialogue in plain text.
func (f *front) startTLS(text string) error {
	switch {
	case f.tlsState != nil:
		return f.sendReply(503, enhBadSequence, "Already running TLS")
	case f.s.opts.TLS == nil:
		return f.sendReply(502, enhNotImplemented, "TLS not available")
	case !strings.EqualFold(strings.TrimSpace(text), "STARTTLS"):
		return f.sendReply(501, enhBadArgs, "Syntax error (no parameters allowed)")
	case f.session != nil && f.session.busy():
		return f.sendReply(503, enhBadSequence, "STARTTLS is not allowed after AUTH or in a mail transaction")
	}
	// Anything pipelined behind STARTTLS was sent in clear text before the
	// handshake: it goes with the old reader, never executed (STARTTLS
	// command injection, RFC 3207 §6).
	if n := f.br.Buffered(); n > 0 {
		f.log.Info("smtp: discarded input pipelined after STARTTLS", "bytes", n)
		f.br.Discard(n)
	}
	if err := f.sendReply(220, enhOK, "Ready to start TLS"); err != nil {
		return err
	}
	tc := tls.Server(f.conn, f.s.opts.TLS)
	f.raw.SetDeadline(time.Now().Add(f.s.limits.CommandTimeout))
	if err := tc.HandshakeContext(f.ctx); err != nil {
		f.log.Debug("smtp: STARTTLS handshake failed", "err", err)
		f.Close()
		return errClosed
	}
	st := tc.ConnectionState()
	f.mu.Lock()
	f.conn = tc
	f.mu.Unlock()
	f.tlsState = &st
	f.br = bufio.NewReaderSize(tc, 4096)
	f.needEHLO = true
	if f.session != nil {
		f.session.Reset()
	}
	f.log.Debug("smtp: TLS started", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	return nil
}

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
func (f *front) emit(line string, count bool) error {
	f.raw.SetWriteDeadline(time.Now().Add(f.s.limits.CommandTimeout))
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	if _, err := io.WriteString(c, line+"\r\n"); err != nil {
		f.Close()
		return errClosed
	}
	code, final := replyCode(line)
	if !final {
		return nil
	}
	f.log.Debug("smtp: -> " + truncate(line, 200))
	switch {
	case code == 354 && f.expect == expectData:
		f.dot, f.lineLen = dotBeginLine, 0
		f.setMode(modeData)
		f.inData = true
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
	case f.inData:
		f.inData = false
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
