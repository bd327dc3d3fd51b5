package smtp

import (
	"io"
	"runtime"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line, verb, arg string
		ok              bool
	}{
		{"NOOP", "NOOP", "", true},
		{"noop", "NOOP", "", true},
		{"MAIL FROM:<a@b>", "MAIL", "FROM:<a@b>", true},
		{"RCPT TO:<a@b>  ", "RCPT", "TO:<a@b>", true},
		{"STARTTLS", "STARTTLS", "", true},
		{"starttls extra", "STARTTLS", "", true},
		{"", "", "", false},
		{"NOO", "", "", false},
		{"NOOP ", "", "", false}, // go-smtp: five bytes is "mangled"
		{"MAILFROM:<a@b>", "", "", false},
		{"HELO\tx", "", "", false},
	} {
		verb, arg, ok := parseCommand(tc.line)
		if verb != tc.verb || arg != tc.arg || ok != tc.ok {
			t.Errorf("%q: %q %q %v, want %q %q %v", tc.line, verb, arg, ok, tc.verb, tc.arg, tc.ok)
		}
	}
}

func TestBDATChunk(t *testing.T) {
	for arg, want := range map[string]int64{"10": 10, "0 LAST": 0, "7 last": 7, "": -1, "x": -1, "1 2": -1, "1 LAST x": -1, "-1": -1, "4294967296": -1} {
		n, _, ok := bdatChunk(arg)
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("%q: %d, want %d", arg, n, want)
		}
	}
}

func TestDotStateFindsOnlyCRLFDotCRLF(t *testing.T) {
	for in, end := range map[string]int{
		".\r\n":            3,
		"a\r\n.\r\n":       6,
		"a\n.\r\n":         -1,
		"a\r\n..\r\n.\r\n": 10,
		"a\r\n.\n":         -1,
		"a\r\r\n.\r\n":     -1, // go-smtp: CR CR LF is no line end
	} {
		st, got := dotBeginLine, -1
		for i := 0; i < len(in); i++ {
			if st = nextDotState(st, in[i]); st == dotEOF {
				got = i + 1
				break
			}
		}
		if got != end {
			t.Errorf("%q: end at %d, want %d", in, got, end)
		}
	}
}

func TestHeaderScan(t *testing.T) {
	var h headerScan
	var from fromField
	h.init(2, true)
	lines := []string{"Received: a\r\n", "From: A\r\n", " <a@example.org>\r\n", "received: b\r\n", "Date: x\r\n", "\r\n"}
	var verdicts []headerVerdict
	for _, l := range lines {
		verdicts = append(verdicts, h.feed([]byte(l), false, &from))
	}
	if verdicts[5] != headerEnd || h.hops != 2 || !h.hasDate || h.hasMessageID {
		t.Errorf("verdicts %v hops %d date %v id %v", verdicts, h.hops, h.hasDate, h.hasMessageID)
	}
	if from.count != 1 || string(from.value) != " A\r\n <a@example.org>\r\n" {
		t.Errorf("from %d %q", from.count, from.value)
	}
	if h.feed([]byte("Received: c\r\n"), false, &from) != headerLoop {
		t.Error("third Received with max 2 is no loop")
	}
	h.init(100, true)
	if h.feed([]byte("not a header\r\n"), false, &from) != headerEnd || !h.sawNonHeader {
		t.Error("non-header line did not end the header")
	}
	for _, l := range []string{": no name\r\n", "Sp ace: x\r\n", "Ünï: x\r\n"} {
		if _, ok := fieldName([]byte(l)); ok {
			t.Errorf("%q accepted as a field", l)
		}
	}
}

func TestSASLServersBounded(t *testing.T) {
	calls := 0
	check := func(_, _, _ string) error { calls++; return nil }
	l := &loginServer{check: check}
	steps := [][]byte{nil, []byte("u"), []byte("p"), []byte("extra")}
	var err error
	for i, s := range steps {
		_, done, e := l.Next(s)
		if i == 2 && (!done || e != nil) {
			t.Fatalf("LOGIN step %d: done %v err %v", i, done, e)
		}
		err = e
	}
	if err == nil || calls != 1 {
		t.Errorf("LOGIN accepted a fourth message: %v, %d checks", err, calls)
	}
	p := &plainServer{check: check}
	if _, done, err := p.Next([]byte("\x00u\x00p")); !done || err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Next([]byte("\x00u\x00p")); err == nil {
		t.Error("PLAIN accepted a second message")
	}
	for _, bad := range []string{"", "\x00\x00p", "\x00u\x00", "u\x00p", "\x00u\x00p\x00x", "\x00\xff\x00p"} {
		p := &plainServer{check: check}
		if _, _, err := p.Next([]byte(bad)); err == nil {
			t.Errorf("PLAIN accepted %q", bad)
		}
	}
}

// countingStore discards messages, counting bytes.
type countingStore struct{ n int64 }

func (s *countingStore) NewDelivery(int64) (Delivery, error) { return countingDelivery{s}, nil }

type countingDelivery struct{ s *countingStore }

func (d countingDelivery) Write(p []byte) (int, error)    { d.s.n += int64(len(p)); return len(p), nil }
func (d countingDelivery) AddRecipient(_, _ string) error { return nil }
func (d countingDelivery) Commit() error                  { return nil }
func (d countingDelivery) Abort() error                   { return nil }

// lineReader yields n bytes of 78-character lines without allocating.
type lineReader struct{ left int }

func (r *lineReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := 0; i < n; i++ {
		p[i] = 'a' + byte(i%26)
		if (r.left-i)%80 == 2 {
			p[i] = '\r'
		} else if (r.left-i)%80 == 1 {
			p[i] = '\n'
		}
	}
	r.left -= n
	return n, nil
}

// The message is streamed: a 16 MiB message costs the process far less
// than 16 MiB of allocations (client and server together).
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 16 MiB")
	}
	store := &countingStore{}
	h := newHarness(t, MX, func(o *Options) {
		o.Store = store
		o.Limits.MaxMessageSize = 64 << 20
		o.Logger = nil
	})
	c := h.client("")
	if err := c.Mail("x@example.net", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(alice, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: big\r\n\r\n")
	const size = 16 << 20
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	if _, err := io.Copy(w, &lineReader{left: size}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 4<<20 {
		t.Errorf("%d KiB allocated for a %d MiB message", alloc>>10, size>>20)
	}
	if store.n < size {
		t.Errorf("store got %d bytes", store.n)
	}
	t.Logf("16 MiB in %v, %d KiB allocated", time.Since(start), alloc>>10)
}
