package imap

// Write coalescing. imapserver flushes its buffered writer after every
// response line, so FETCH 1:* over 10,000 messages costs 10,000 writes to
// the socket (and as many wake-ups of the client). flushConn gathers those
// writes and sends them when the server turns to read the next command,
// when flushBuffer bytes are waiting, or flushDelay after the first
// pending byte (for what is written while the server is not reading: IDLE
// updates, responses to pipelined commands), and before the connection
// closes, so nothing written is lost or held back for long.

import (
	"net"
	"sync"
	"time"
)

const (
	flushBuffer = 64 << 10
	flushDelay  = 2 * time.Millisecond
)

// flushConn is a net.Conn whose writes are coalesced.
type flushConn struct {
	net.Conn

	mu    sync.Mutex // guards the fields below and writes to Conn
	buf   []byte
	err   error // the first write error; every later write returns it
	timer *time.Timer
	armed bool
}

func newFlushConn(c net.Conn) *flushConn {
	f := &flushConn{Conn: c}
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

func (f *flushConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	if len(f.buf)+len(p) > flushBuffer {
		if err := f.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= flushBuffer {
			n, err := f.Conn.Write(p)
			if err != nil {
				f.err = err
			}
			return n, err
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
	return len(p), nil
}

// Read sends what is pending first: the server reads when it has answered.
func (f *flushConn) Read(p []byte) (int, error) {
	if err := f.Flush(); err != nil {
		return 0, err
	}
	return f.Conn.Read(p)
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
func (f *flushConn) Close() error {
	f.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	f.mu.Lock()
	f.timer.Stop()
	f.flushLocked()
	f.release()
	f.mu.Unlock()
	return f.Conn.Close()
}
