package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// The message path: go-smtp's DATA reader (dot-unstuffing) or BDAT pipe
// -> stream (bare LF to CRLF, size limit, header scan, added fields) ->
// the local Delivery and/or the queued Outgoing. Nothing is buffered
// beyond one 32 KiB read buffer and one bounded header field; limits are
// enforced as bytes arrive. 250 is answered only after every Commit.

const (
	readBufSize = 32 << 10
	// addedRoom is what the size given to the store adds to
	// MaxMessageSize for the fields this server writes itself.
	addedRoom = 4 << 10
)

func errTooBig() error {
	return replyErr(552, enhTooBig, "Message size exceeds fixed maximum message size")
}

func errLocal() error {
	return replyErr(451, enhLocalError, "Local error in processing, try again later")
}

// deliver stores one message for the transaction's recipients.
func (ss *session) deliver(r io.Reader, env envelope) (err error) {
	id := newID()
	log := ss.log.With("id", id)
	limit := ss.s.limits.MaxMessageSize
	rp, trace := returnPath(env), ss.received(id, env)
	out, err := ss.openSinks(env, limit+int64(len(rp)+len(trace))+addedRoom)
	if err != nil {
		log.Error("smtp: cannot start delivery", "err", err)
		return errLocal()
	}
	defer func() {
		if err != nil {
			out.abort()
		}
	}()
	if out.local != nil {
		if _, err := io.WriteString(out.local, rp); err != nil {
			log.Error("smtp: delivery failed", "err", err)
			return errLocal()
		}
	}
	if _, err := io.WriteString(out, trace); err != nil {
		log.Error("smtp: delivery failed", "err", err)
		return errLocal()
	}
	st := &streamer{
		w: out, limit: limit, maxHops: ss.s.limits.MaxHops,
		submission: ss.s.opts.Mode.submission(), now: ss.s.now(), host: ss.s.opts.Hostname,
		dotStuffed: ss.f.inData.Load(),
	}
	size, err := st.copy(r)
	if err != nil {
		return ss.streamFailed(log, err)
	}
	if st.submission {
		if err := ss.checkHeaderFrom(st.from); err != nil {
			return err
		}
	}
	if err := out.commit(); err != nil {
		log.Error("smtp: delivery not committed", "err", err)
		return errLocal()
	}
	log.Info("smtp: delivered", "from", env.from, "rcpts", len(env.rcpts),
		"local", len(env.local), "queued", len(env.remote), "size", size,
		"user", ss.user, "tls", ss.f.tlsState != nil)
	return nil
}

// streamFailed turns a streaming error into the DATA reply.
func (ss *session) streamFailed(log *slog.Logger, err error) error {
	var reply *gosmtp.SMTPError
	switch {
	case errors.As(err, &reply):
		log.Info("smtp: message refused", "reply", reply.Message)
		return reply
	case errors.Is(err, gosmtp.ErrDataTooLarge):
		return errTooBig()
	case errors.Is(err, errSinkWrite):
		log.Error("smtp: delivery failed", "err", err)
		return errLocal()
	}
	// The client went away or the transfer was reset (RSET between BDAT
	// chunks, a timeout); nothing was stored.
	log.Info("smtp: message transfer aborted", "err", err)
	return replyErr(451, enhLocalError, "Message transfer aborted")
}

// sinks writes the message to the local delivery and the queue.
type sinks struct {
	local Delivery
	queue Outgoing
}

var errSinkWrite = errors.New("smtp: writing the message failed")

func (ss *session) openSinks(env envelope, maxSize int64) (_ *sinks, err error) {
	out := &sinks{}
	defer func() {
		if err != nil {
			out.abort()
		}
	}()
	if len(env.local) > 0 {
		d, err := ss.s.opts.Store.NewDelivery(maxSize)
		if err != nil {
			return nil, err
		}
		out.local = d
		for _, u := range env.local {
			if err := d.AddRecipient(u, ""); err != nil {
				return nil, err
			}
		}
	}
	if len(env.remote) > 0 {
		q, err := ss.s.opts.Queue.NewMessage(env.from, maxSize)
		if err != nil {
			return nil, err
		}
		out.queue = q
		for _, a := range env.remote {
			if err := q.AddRecipient(a); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (o *sinks) Write(p []byte) (int, error) {
	if o.local != nil {
		if _, err := o.local.Write(p); err != nil {
			return 0, errors.Join(errSinkWrite, err)
		}
	}
	if o.queue != nil {
		if _, err := o.queue.Write(p); err != nil {
			return 0, errors.Join(errSinkWrite, err)
		}
	}
	return len(p), nil
}

// commit makes the local copies durable first, then the queued one. If
// the queue fails after the local commit the client gets 451 and may send
// again, so local recipients could see the message twice; the other order
// would send remote copies twice instead.
func (o *sinks) commit() error {
	if o.local != nil {
		if err := o.local.Commit(); err != nil {
			o.local.Abort()
			o.local = nil
			return err
		}
		o.local = nil
	}
	if o.queue != nil {
		if err := o.queue.Commit(); err != nil {
			o.queue.Abort()
			o.queue = nil
			return err
		}
		o.queue = nil
	}
	return nil
}

func (o *sinks) abort() {
	if o.local != nil {
		o.local.Abort()
		o.local = nil
	}
	if o.queue != nil {
		o.queue.Abort()
		o.queue = nil
	}
}

// streamer copies the message from the engine to the sinks.
type streamer struct {
	w          io.Writer
	limit      int64
	maxHops    int
	submission bool
	dotStuffed bool // DATA (dot-stuffed), not BDAT
	now        time.Time
	host       string

	size    int64
	hdr     headerScan
	from    fromField
	scratch []byte
}

// copy streams r to w. Line ends: a bare LF becomes CRLF, so every copy
// and every count sees one convention; CR alone and 8-bit bytes are kept
// as they are. Dot-unstuffing (RFC 5321 §4.5.2) is go-smtp's, extended
// here to lines after a bare LF; only CRLF.CRLF ends the data.
func (st *streamer) copy(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, readBufSize)
	st.hdr.init(st.maxHops, st.submission)
	midLine, prevCR, afterBareLF := false, false, false
	for {
		seg, rerr := br.ReadSlice('\n')
		if afterBareLF && st.dotStuffed && len(seg) > 0 && seg[0] == '.' {
			// go-smtp unstuffs only lines that follow CRLF; a line after a
			// bare LF is treated the same, as if the LF were CRLF. Such a
			// line is never an end of data, however (SMTP smuggling).
			seg = seg[1:]
		}
		afterBareLF = false
		if len(seg) > 0 {
			line := seg
			if seg[len(seg)-1] == '\n' && !(len(seg) >= 2 && seg[len(seg)-2] == '\r') && !(len(seg) == 1 && prevCR) {
				st.scratch = append(append(st.scratch[:0], seg[:len(seg)-1]...), '\r', '\n')
				line = st.scratch
				afterBareLF = true
			}
			prevCR = seg[len(seg)-1] == '\r'
			if err := st.line(line, midLine); err != nil {
				return st.size, err
			}
			midLine = line[len(line)-1] != '\n'
		}
		switch {
		case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
		case errors.Is(rerr, io.EOF):
			if st.hdr.inHeader {
				if err := st.endHeader(midLine); err != nil {
					return st.size, err
				}
			}
			return st.size, nil
		default:
			return st.size, rerr
		}
	}
}

// line handles one line, or one piece of a line longer than the buffer.
func (st *streamer) line(line []byte, midLine bool) error {
	if st.hdr.inHeader {
		switch st.hdr.feed(line, midLine, &st.from) {
		case headerLoop:
			return replyErr(554, enhLoop, "Too many Received header fields: mail loop?")
		case headerEnd:
			if err := st.endHeader(false); err != nil {
				return err
			}
		}
	}
	st.size += int64(len(line))
	if st.size > st.limit {
		return errTooBig()
	}
	if _, err := st.w.Write(line); err != nil {
		return err
	}
	return nil
}

// endHeader writes the fields submission adds (RFC 6409 §8.2, §8.3) where
// the header ends. endsMidLine: the message ended without a line end.
func (st *streamer) endHeader(endsMidLine bool) error {
	st.hdr.inHeader = false
	if !st.submission {
		return nil
	}
	added := st.hdr.missingFields(st.now, st.host)
	if added == "" {
		return nil
	}
	if endsMidLine {
		added = "\r\n" + added
	}
	if st.hdr.sawNonHeader {
		// The header ended without its empty line (RFC 5322 §2.1): add it,
		// or the fields added here would swallow the first body line.
		added += "\r\n"
	}
	_, err := io.WriteString(st.w, added)
	return err
}

// tlsSuffix is for logs and Received: "TLS1.3 TLS_AES_128_GCM_SHA256".
func tlsNames(st *tls.ConnectionState) (version, cipher string) {
	return tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
}
