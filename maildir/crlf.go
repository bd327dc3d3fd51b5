package maildir

// Line endings. Messages are stored with LF line ends, as Dovecot stores
// them, and served with CRLF: every LF not preceded by CR becomes CRLF.
// The CRLF size (",W=" in the name, RFC822.SIZE) is the size of that view.

import (
	"io"
)

// crlfReader serves LF-stored data with CRLF line ends.
type crlfReader struct {
	r         io.Reader
	buf       []byte
	prevCR    bool
	pendingLF bool
	err       error
}

func newCRLFReader(r io.Reader) *crlfReader { return &crlfReader{r: r} }

func (c *crlfReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	if c.pendingLF {
		p[0] = '\n'
		n = 1
		c.pendingLF = false
		c.prevCR = false
	}
	for n < len(p) {
		if c.err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, c.err
		}
		half := (len(p) - n) / 2
		if half == 0 {
			half = 1
		}
		if half > 32<<10 {
			half = 32 << 10
		}
		if cap(c.buf) < half {
			c.buf = make([]byte, half)
		}
		m, err := c.r.Read(c.buf[:half])
		c.err = err
		for _, b := range c.buf[:m] {
			if b == '\n' && !c.prevCR {
				p[n] = '\r'
				n++
				if n == len(p) {
					c.pendingLF = true
					return n, nil
				}
			}
			p[n] = b
			n++
			c.prevCR = b == '\r'
		}
		if m > 0 {
			return n, nil
		}
	}
	return n, nil
}

// lfWriter stores a message with LF line ends: CRLF becomes LF, a lone CR
// stays. It counts the stored size and the CRLF size, and fails with
// ErrTooBig once the CRLF size passes max (when max > 0).
type lfWriter struct {
	w         io.Writer
	max       int64
	size      int64 // bytes written to w
	vsize     int64 // CRLF size of what was written
	pendingCR bool
	prevOut   byte
	buf       []byte
	err       error
}

func newLFWriter(w io.Writer, max int64) *lfWriter {
	return &lfWriter{w: w, max: max}
}

func (l *lfWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	out := l.buf[:0]
	for _, c := range p {
		if l.pendingCR {
			l.pendingCR = false
			if c == '\n' {
				out = l.emit(out, '\n')
				continue
			}
			out = l.emit(out, '\r')
		}
		if c == '\r' {
			l.pendingCR = true
			continue
		}
		out = l.emit(out, c)
	}
	l.buf = out[:0]
	if l.max > 0 && l.vsize > l.max {
		l.err = ErrTooBig
		return 0, l.err
	}
	if len(out) > 0 {
		if _, err := l.w.Write(out); err != nil {
			l.err = err
			return 0, err
		}
	}
	return len(p), nil
}

func (l *lfWriter) emit(out []byte, c byte) []byte {
	l.size++
	l.vsize++
	if c == '\n' && l.prevOut != '\r' {
		l.vsize++
	}
	l.prevOut = c
	return append(out, c)
}

// flush writes a CR held back at the end of the input.
func (l *lfWriter) flush() error {
	if l.err != nil {
		return l.err
	}
	if l.pendingCR {
		l.pendingCR = false
		out := l.emit(l.buf[:0], '\r')
		if l.max > 0 && l.vsize > l.max {
			l.err = ErrTooBig
			return l.err
		}
		if _, err := l.w.Write(out); err != nil {
			l.err = err
			return err
		}
	}
	return nil
}

// crlfSize counts the CRLF size of LF-stored data.
func crlfSize(r io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	prev := byte(0)
	for {
		m, err := r.Read(buf)
		for _, c := range buf[:m] {
			n++
			if c == '\n' && prev != '\r' {
				n++
			}
			prev = c
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
