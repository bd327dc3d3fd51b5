package imap

// flushConn is the net.Conn under each imapserver.Conn. It has three jobs.
//
// Write coalescing. imapserver flushes its buffered writer after every
// response line, so FETCH 1:* over 10,000 messages costs 10,000 writes to
// the socket (and as many wake-ups of the client). flushConn gathers those
// writes and sends them when the server turns to read the next command,
// when flushBuffer bytes are waiting, or flushDelay after the first
// pending byte (for what is written while the server is not reading: IDLE
// updates, responses to pipelined commands), and before the connection
// closes, so nothing written is lost or held back for long.
//
// Command capture. The FETCH writer answers byte for byte like Dovecot,
// which keeps the client's order of data items and echoes their names as
// the client wrote them; go-imap's FetchOptions keep neither, so the
// session needs the text of the command it is executing (commandOf). Read
// hands imapserver at most one line per call and records each complete
// command. Why that makes the recorded command the one being executed:
// imapserver.Conn reads only through its bufio.Reader over this
// connection (Conn.br, made in newConn; without Options.DebugWriter
// nothing sits in between), and a bufio.Reader calls Read only when it
// has run out of bytes: ReadByte, which imapwire.Decoder uses for every
// byte of a command and Decoder.EOF for the first byte of the next, fills
// only an empty buffer; ReadSlice, under the ReadLine that reads IDLE's
// DONE and AUTHENTICATE's responses, fills only while no '\n' is
// buffered; Read, under the io.LimitReader of a literal, fills only an
// empty buffer; and Peek is used only when bytes are buffered (an Expect
// error message). Since no Read returns bytes past a line's end, the
// buffer never holds the start of the next command. readCommand parses
// a command through its CRLF (handleFetch ends with ExpectCRLF) before it
// calls the session, and the serve loop asks for the next command
// (Decoder.EOF) only after readCommand has returned: commands run one at a
// time ("TODO: handle multiple commands concurrently"). So while
// Session.Fetch runs, the last command recorded is that FETCH.
//
// Framing. A line ending in a literal's announcement ({n}, {n+}, ~{n}) is
// followed by n bytes that are not lines, and the command goes on after
// them. Whether those bytes come is imapserver's decision, which the
// connection sees in what imapserver writes before it reads again: a
// synchronizing literal is read after a continuation request ("+ ..."),
// and is not sent at all when the server answers instead (a LOGIN literal
// over 4096 bytes, an APPEND over the APPENDLIMIT); a non-synchronizing
// one is read at once, unless the server answers first, in which case
// imapserver itself takes its bytes for commands. The same observation
// tells the lines that answer a continuation request after AUTHENTICATE
// and IDLE (SASL responses, DONE), which are no commands, from the next
// command.
//
// STARTTLS. go-imap's STARTTLS would put TLS under this connection, which
// would then see only ciphertext, so Read performs it instead (startTLS):
// a STARTTLS line in a plain, unauthenticated connection is answered
// here, and after the handshake a new flushConn over the tls.Conn is
// handed to the Server's TLS imapserver.Server; this one then reads EOF,
// which ends its imapserver.Conn and session, and its Close leaves the
// socket to the new one.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/emersion/go-imap/v2/imapserver"
)

const (
	flushBuffer = 64 << 10
	flushDelay  = 2 * time.Millisecond

	// maxRecordedCommand bounds the command text kept for the FETCH
	// writer (RFC 2683 §3.2.1.5's 8 KiB line); longer ones are recorded
	// as unavailable.
	maxRecordedCommand = 8 << 10
	// literalTail is enough of a line's end to hold the longest literal
	// announcement go-imap accepts: "{" 19 digits "+} " CR LF.
	literalTail = 32
)

// startTLSTimeout bounds the TLS handshake after STARTTLS; a variable for
// the tests.
var startTLSTimeout = 30 * time.Second

// errHandedOver is what a flushConn's writes return once STARTTLS has
// begun: nothing may go out in clear text after the server's OK.
var errHandedOver = errors.New("imap: connection handed over to TLS")

// Handover states of a flushConn.
const (
	connLive     int32 = iota
	connStarting       // STARTTLS answered, handshake under way
	connHanded         // the socket belongs to the flushConn over TLS
	connFailed         // STARTTLS failed; the socket is closed
)

// contKind is what a command may be followed by besides the next command.
type contKind uint8

const (
	contNone contKind = iota
	contAuth          // SASL responses, any number of them
	contIdle          // DONE
)

// upgrader performs STARTTLS for a Server's plain connections.
type upgrader struct {
	tls     *tls.Config
	log     *slog.Logger
	timeout time.Duration
	// give hands the connection over TLS (which drops the greeting it is
	// sent) to an imapserver.Server; false when the Server is shutting
	// down.
	give func(*flushConn) bool
}

// flushConn is the connection under an imapserver.Conn; see the top of
// this file.
type flushConn struct {
	net.Conn
	up     *upgrader // nil: no STARTTLS here (TLS already, or none configured)
	opened time.Time // when the client connected, for the login deadline
	authed atomic.Bool
	state  atomic.Int32 // connLive, then connStarting under mu, then the rest under smu

	mu    sync.Mutex // guards the fields below and writes to Conn
	buf   []byte
	err   error // the first write error; every later write returns it
	timer *time.Timer
	armed bool
	// dropGreeting: the next line written is the greeting of a connection
	// that went through STARTTLS, which must not get one (RFC 3501 §6.2.1).
	dropGreeting bool
	dropping     bool // inside the dropped greeting
	// awaitCont: the client's next line may be data the server asks for
	// with a continuation request; sawCont and sawWrite tell what the
	// server wrote since.
	awaitCont, sawCont, sawWrite bool

	smu    sync.Mutex // guards closed and the record below
	closed bool
	last   string // the last complete command, without CRLF
	lastOK bool   // last holds it: no literal, at most maxRecordedCommand

	// The reading side, used by one goroutine at a time: imapserver's.
	stash     []byte   // read but not yet handed over; nil when empty
	litLeft   int64    // bytes of literal data still to hand over
	pendLit   int64    // announced literal, -1 if none: comes or not?
	pendSync  bool     // it is a synchronizing one
	lineLen   int      // bytes of the current line handed over; 0 at a line's start
	contLine  bool     // the current line answers a continuation request
	inCmd     bool     // a command is under way (it goes on after a literal)
	firstLine bool     // the current line is its command's first
	cmdLit    bool     // the command has a literal
	cmdCont   contKind // what the command may be followed by
	cur       []byte   // the command's first line so far, when it spans reads
	tail      [literalTail]byte
	tailLen   int
}

func newFlushConn(c net.Conn) *flushConn {
	f := &flushConn{Conn: c, opened: time.Now(), pendLit: -1}
	f.timer = time.AfterFunc(time.Hour, f.timedFlush)
	f.timer.Stop()
	return f
}

// unwrapConn returns the connection under a flushConn.
func unwrapConn(c net.Conn) net.Conn {
	if f, ok := c.(*flushConn); ok {
		return f.Conn
	}
	return c
}

// connAge is how long ago the client opened c, STARTTLS included.
func connAge(c net.Conn) time.Duration {
	if f, ok := c.(*flushConn); ok {
		return time.Since(f.opened)
	}
	return 0
}

// commandOf returns the text of the command c is executing, without CRLF;
// false when it is not known (it had a literal, was longer than 8 KiB, or
// c is not over a flushConn). Callers should still check that the text is
// the command they serve.
func commandOf(c *imapserver.Conn) (string, bool) {
	if f, ok := c.NetConn().(*flushConn); ok {
		return f.lastCommand()
	}
	return "", false
}

// lastCommand returns the last complete command read, without CRLF; false
// when it had a literal or was over 8 KiB, or a later command has begun.
func (f *flushConn) lastCommand() (string, bool) {
	f.smu.Lock()
	defer f.smu.Unlock()
	return f.last, f.lastOK
}

// markLoggedIn tells c that its session has logged in: a STARTTLS from now on
// is imapserver's to refuse.
func markLoggedIn(c *imapserver.Conn) {
	if f, ok := c.NetConn().(*flushConn); ok {
		f.authed.Store(true)
	}
}

func (f *flushConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state.Load() != connLive {
		return 0, errHandedOver
	}
	if f.err != nil {
		return 0, f.err
	}
	if f.awaitCont {
		if !f.sawWrite && len(p) > 0 && p[0] == '+' {
			f.sawCont = true
		}
		f.sawWrite = true
	}
	n := len(p)
	if f.dropGreeting || f.dropping {
		p = f.skipGreeting(p)
	}
	if len(p) == 0 {
		return n, nil
	}
	if len(f.buf)+len(p) > flushBuffer {
		if err := f.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= flushBuffer {
			if _, err := f.Conn.Write(p); err != nil {
				f.err = err
				return 0, err
			}
			return n, nil
		}
	}
	if f.buf == nil {
		f.buf = (*bufPool.Get().(*[]byte))[:0]
	}
	f.buf = append(f.buf, p...)
	if !f.armed {
		f.armed = true
		f.timer.Reset(flushDelay)
	}
	return n, nil
}

// skipGreeting drops the greeting line from p. Only an OK greeting goes:
// a BYE (the server is shutting down) is for the client to see.
func (f *flushConn) skipGreeting(p []byte) []byte {
	if f.dropGreeting {
		f.dropGreeting = false
		if !bytes.HasPrefix(p, []byte("* OK")) {
			return p
		}
		f.dropping = true
	}
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return nil
	}
	f.dropping = false
	return p[i+1:]
}

// Read sends what is pending first (the server reads when it has
// answered), then hands over at most one line, or literal data.
func (f *flushConn) Read(p []byte) (int, error) {
	if f.state.Load() != connLive {
		return 0, io.EOF
	}
	if err := f.Flush(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.litLeft == 0 && f.lineLen == 0 {
		f.startLine()
	}
	if f.litLeft > 0 {
		return f.readLiteral(p)
	}
	return f.readLine(p)
}

// startLine decides, at the start of a line or after a literal, what
// comes: the announced literal, an answer to a continuation request, the
// rest of a command, or a new command.
func (f *flushConn) startLine() {
	f.mu.Lock()
	sawCont, sawWrite := f.sawCont, f.sawWrite
	f.awaitCont, f.sawCont, f.sawWrite = false, false, false
	f.mu.Unlock()
	f.contLine = false
	if n := f.pendLit; n >= 0 {
		f.pendLit = -1
		if f.pendSync && sawCont || !f.pendSync && !sawWrite {
			f.litLeft = n
			return
		}
		// The server answered instead: the command is over, and what
		// follows is the next one.
		f.inCmd = false
	}
	if f.cmdCont != contNone {
		if sawCont {
			f.contLine = true
			return
		}
		f.cmdCont = contNone
	}
	if !f.inCmd {
		f.inCmd, f.firstLine, f.cmdLit = true, true, false
		f.smu.Lock()
		f.last, f.lastOK = "", false
		f.smu.Unlock()
	}
}

func (f *flushConn) readLiteral(p []byte) (int, error) {
	if int64(len(p)) > f.litLeft {
		p = p[:f.litLeft]
	}
	var n int
	var err error
	if len(f.stash) > 0 {
		n = copy(p, f.stash)
		f.consumeStash(n)
	} else {
		n, err = f.Conn.Read(p)
	}
	f.litLeft -= int64(n)
	return n, err
}

func (f *flushConn) consumeStash(n int) {
	f.stash = f.stash[n:]
	if len(f.stash) == 0 {
		f.stash = nil
	}
}

func (f *flushConn) readLine(p []byte) (int, error) {
	var n int
	var err error
	if s := f.stash; len(s) > 0 {
		m := len(s)
		if i := bytes.IndexByte(s, '\n'); i >= 0 {
			m = i + 1
		}
		n = copy(p, s[:m])
		f.consumeStash(n)
	} else {
		n, err = f.Conn.Read(p)
		if n == 0 {
			return 0, err
		}
	}
	i := bytes.IndexByte(p[:n], '\n')
	// A STARTTLS line must be seen whole before any of it is handed over.
	for i < 0 && err == nil && f.stash == nil && f.mayStartTLS() {
		if _, maybe := startTLSLine(p[:n]); !maybe {
			break
		}
		if n == len(p) {
			return 0, errors.New("imap: overlong command tag")
		}
		var m int
		m, err = f.Conn.Read(p[n:])
		if j := bytes.IndexByte(p[n:n+m], '\n'); j >= 0 {
			i = n + j
		}
		n += m
	}
	end := n
	if i >= 0 {
		end = i + 1
	}
	line := p[:end]
	complete := line[end-1] == '\n'
	if complete && f.lineLen == 0 && f.mayStartTLS() {
		if tag, _ := startTLSLine(line); tag != nil {
			return f.startTLS(tag, n-end+len(f.stash))
		}
	}
	if end < n {
		f.stash = bytes.Clone(p[end:n]) // the stash was empty: these came from Conn
		err = nil
	}
	if f.contLine {
		f.lineLen += end
		if complete {
			f.endContLine()
		}
		return end, err
	}
	f.pushTail(line)
	if f.firstLine && len(f.cur) < maxRecordedCommand+2 && (f.lineLen > 0 || !complete) {
		f.cur = append(f.cur, line[:min(len(line), maxRecordedCommand+2-len(f.cur))]...)
	}
	f.lineLen += end
	if complete {
		whole := line
		if f.cur != nil {
			whole = f.cur
		}
		f.endLine(whole)
	}
	return end, err
}

// mayStartTLS: a STARTTLS line here would be performed by startTLS.
func (f *flushConn) mayStartTLS() bool {
	return f.up != nil && f.firstLine && f.lineLen == 0 && !f.contLine && !f.authed.Load()
}

// endContLine ends a line that answered a continuation request.
func (f *flushConn) endContLine() {
	f.lineLen = 0
	f.mu.Lock()
	// An AUTHENTICATE exchange may go on; IDLE ends with DONE.
	f.awaitCont = f.cmdCont == contAuth
	f.sawCont, f.sawWrite = false, false
	f.mu.Unlock()
	if f.cmdCont != contAuth {
		f.cmdCont = contNone
	}
}

// endLine ends a line of a command; whole is the line, with its end, when
// it is the command's first, or its first maxRecordedCommand+2 bytes.
func (f *flushConn) endLine(whole []byte) {
	end := f.tail[:f.tailLen]
	n, sync, isLit := literalAnnounced(end)
	first := f.firstLine
	long := f.lineLen-eolLen(end) > maxRecordedCommand
	f.lineLen, f.tailLen, f.firstLine, f.cur = 0, 0, false, nil
	if first {
		f.cmdCont = contNone
		if !isLit {
			f.cmdCont = continuedBy(whole)
		}
	}
	if isLit {
		f.cmdLit = true
		f.pendLit, f.pendSync = n, sync
	} else {
		f.inCmd = false
		if first && !f.cmdLit && !long {
			f.smu.Lock()
			f.last, f.lastOK = string(whole[:len(whole)-eolLen(whole)]), true
			f.smu.Unlock()
		}
	}
	f.mu.Lock()
	f.awaitCont = isLit || f.cmdCont != contNone
	f.sawCont, f.sawWrite = false, false
	f.mu.Unlock()
}

// pushTail keeps the last literalTail bytes of the current line.
func (f *flushConn) pushTail(b []byte) {
	if len(b) >= literalTail {
		f.tailLen = copy(f.tail[:], b[len(b)-literalTail:])
		return
	}
	keep := min(f.tailLen, literalTail-len(b))
	copy(f.tail[:], f.tail[f.tailLen-keep:f.tailLen])
	f.tailLen = keep + copy(f.tail[keep:], b)
}

// eolLen is the length of line's end: LF, or CR LF.
func eolLen(line []byte) int {
	switch {
	case bytes.HasSuffix(line, []byte("\r\n")):
		return 2
	case bytes.HasSuffix(line, []byte("\n")):
		return 1
	}
	return 0
}

// literalAnnounced parses the end of a line as imapwire.Decoder reads a
// literal's announcement: "{" number ["+"] "}" [SP] [CR] LF.
func literalAnnounced(end []byte) (n int64, sync, ok bool) {
	end = end[:len(end)-eolLen(end)]
	end = bytes.TrimSuffix(end, []byte(" "))
	if !bytes.HasSuffix(end, []byte("}")) {
		return 0, false, false
	}
	open := bytes.LastIndexByte(end, '{')
	if open < 0 {
		return 0, false, false
	}
	num := end[open+1 : len(end)-1]
	sync = true
	if bytes.HasSuffix(num, []byte("+")) {
		num, sync = num[:len(num)-1], false
	}
	if len(num) == 0 || num[0] < '0' || num[0] > '9' {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, sync, true
}

// continuedBy tells, from a command's first line, what may follow it.
func continuedBy(line []byte) contKind {
	_, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return contNone
	}
	name, _, _ := bytes.Cut(bytes.TrimRight(rest, "\r\n"), []byte(" "))
	switch strings.ToUpper(string(name)) {
	case "AUTHENTICATE":
		return contAuth
	case "IDLE":
		return contIdle
	}
	return contNone
}

// isAtomChar is imapwire.IsAtomChar: what a tag is made of.
func isAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return !unicode.IsControl(rune(c))
}

// startTLSLine matches b, the start of a command line, against a STARTTLS
// command as imapserver parses it: tag SP "STARTTLS" (any case, as
// strings.ToUpper sees it) [SP] [CR] LF. tag is set when b is such a
// line; maybe reports whether b could still become one.
func startTLSLine(b []byte) (tag []byte, maybe bool) {
	i := 0
	for i < len(b) && isAtomChar(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, true
	}
	if i == 0 || b[i] != ' ' {
		return nil, false
	}
	rest := b[i+1:]
	j := 0
	for j < len(rest) && isAtomChar(rest[j]) {
		j++
	}
	word, rest := rest[:j], rest[j:]
	if len(rest) == 0 {
		return nil, len(word) < 4*len("STARTTLS") // still typing it
	}
	if strings.ToUpper(string(word)) != "STARTTLS" {
		return nil, false
	}
	rest = bytes.TrimPrefix(rest, []byte(" "))
	rest = bytes.TrimPrefix(rest, []byte("\r"))
	switch {
	case len(rest) == 0:
		return nil, true
	case len(rest) == 1 && rest[0] == '\n':
		return b[:i], false
	}
	return nil, false
}

// startTLS answers STARTTLS, performs the handshake and hands the
// connection over TLS to the Server; this connection reads EOF from now
// on. discard is how many bytes came after the STARTTLS line.
func (f *flushConn) startTLS(tag []byte, discard int) (int, error) {
	up := f.up
	log := up.log.With("remote", f.RemoteAddr().String())
	// Whatever was pipelined behind STARTTLS was sent in clear text
	// before the handshake: it is dropped, never executed (command
	// injection, RFC 3207 §6 and RFC 2595 §3.1).
	f.stash = nil
	if discard > 0 {
		log.Info("imap: discarded input pipelined after STARTTLS", "bytes", discard)
	}
	f.mu.Lock()
	f.timer.Stop()
	f.armed = false
	err := f.flushLocked()
	if err == nil {
		_, err = f.Conn.Write(append(tag[:len(tag):len(tag)], " OK Begin TLS negotiation now\r\n"...))
	}
	f.release()
	f.state.Store(connStarting)
	f.mu.Unlock()
	if err != nil {
		return f.failTLS(log, "imap: writing the STARTTLS reply", err)
	}

	raw := f.Conn
	raw.SetDeadline(time.Now().Add(up.timeout))
	ctx, cancel := context.WithTimeout(context.Background(), up.timeout)
	tc := tls.Server(raw, up.tls)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return f.failTLS(log, "imap: STARTTLS handshake failed", err)
	}
	raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	log.Debug("imap: TLS started", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))

	next := newFlushConn(tc)
	next.opened = f.opened
	next.dropGreeting = true
	f.smu.Lock()
	if f.closed { // the session was cut during the handshake
		f.smu.Unlock()
		tc.Close()
		return 0, io.EOF
	}
	f.state.Store(connHanded)
	f.smu.Unlock()
	if !up.give(next) {
		next.Close()
	}
	return 0, io.EOF
}

func (f *flushConn) failTLS(log *slog.Logger, msg string, err error) (int, error) {
	log.Debug(msg, "err", err)
	f.smu.Lock()
	f.state.Store(connFailed)
	f.smu.Unlock()
	f.Conn.Close()
	return 0, io.EOF
}

// The deadline setters leave the socket alone once STARTTLS has begun:
// the old imapserver.Conn (its BYE on a timeout, say) must not change the
// deadlines of the handshake or of the connection over TLS.

func (f *flushConn) SetDeadline(t time.Time) error {
	if f.state.Load() != connLive {
		return nil
	}
	return f.Conn.SetDeadline(t)
}

func (f *flushConn) SetReadDeadline(t time.Time) error {
	if f.state.Load() != connLive {
		return nil
	}
	return f.Conn.SetReadDeadline(t)
}

func (f *flushConn) SetWriteDeadline(t time.Time) error {
	if f.state.Load() != connLive {
		return nil
	}
	return f.Conn.SetWriteDeadline(t)
}

// Flush sends what is pending.
func (f *flushConn) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked()
}

func (f *flushConn) timedFlush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	f.flushLocked()
}

func (f *flushConn) flushLocked() error {
	if f.err != nil {
		return f.err
	}
	if len(f.buf) == 0 {
		return nil
	}
	_, err := f.Conn.Write(f.buf)
	f.release()
	if err != nil {
		f.err = err
	}
	return err
}

// release gives the buffer back: idle connections hold none.
func (f *flushConn) release() {
	if f.buf != nil {
		b := f.buf[:0]
		bufPool.Put(&b)
		f.buf = nil
	}
}

// bufPool holds the buffers of connections that have something pending.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, flushBuffer)
	return &b
}}

// closeFlushTimeout bounds how long Close waits to send what is pending:
// a client that does not read must not hold up the close.
const closeFlushTimeout = 5 * time.Second

// Close sends what is pending and closes the connection. It waits for a
// flush that is under way (the timer's): closing under it would cut the
// last responses, the BYE and tagged OK of LOGOUT among them. The write
// deadline keeps that wait short when the client has stopped reading.
// After STARTTLS the socket belongs to the connection over TLS, and Close
// leaves it open.
func (f *flushConn) Close() error {
	f.smu.Lock()
	if f.state.Load() == connHanded {
		f.smu.Unlock()
		f.mu.Lock()
		f.timer.Stop()
		f.release()
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.smu.Unlock()
	f.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	f.mu.Lock()
	f.timer.Stop()
	if f.state.Load() == connLive {
		f.flushLocked()
	}
	f.release()
	f.mu.Unlock()
	return f.Conn.Close()
}
