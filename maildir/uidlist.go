package maildir

// The UID list: dovecot-uidlist, Dovecot's map from message base names to
// IMAP UIDs.
//
// Version 3 (written by Dovecot 2.x and by this package):
//
//	3 V<uidvalidity> N<next uid> G<32 hex digits: mailbox GUID>
//	<uid> [<ext> ...] :<base name>
//
// Records are in ascending UID order, fields separated by one space, lines
// end in LF. An extension is one letter and a value; "W<vsize>" records the
// CRLF size of a file whose name has no ",W=". Unknown header fields and
// extensions are kept as they are. Version 1 (Dovecot 1.0) is read too:
//
//	1 <uidvalidity> <next uid>
//	<uid> <file name>
//
// Version 2 has version 3's layout. The next UID never goes down: when a
// record holds a UID at or above the header's N, N is taken as that UID + 1.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const uidlistName = "dovecot-uidlist"

// maxUidlistSize bounds what is read: 100 MB holds over a million records.
const maxUidlistSize = 100 << 20

// errCorruptUidlist marks a uidlist that cannot be trusted; the mailbox is
// then rebuilt with a new UIDVALIDITY.
var errCorruptUidlist = errors.New("maildir: corrupt dovecot-uidlist")

type uidRec struct {
	uid  uint32
	base string
	ext  string // extension fields as read ("W26 Xfoo"), "" when none
}

type uidlist struct {
	validity uint32
	next     uint32
	guid     string // 32 lowercase hex digits
	hdrExtra string // unknown header fields, kept
	recs     []uidRec
}

// vsize returns the W extension of r, or -1.
func (r *uidRec) vsize() int64 {
	for _, f := range strings.Fields(r.ext) {
		if len(f) > 1 && f[0] == 'W' {
			if n, err := strconv.ParseInt(f[1:], 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

// setVsize replaces or adds the W extension.
func (r *uidRec) setVsize(n int64) {
	var out []string
	for _, f := range strings.Fields(r.ext) {
		if len(f) > 0 && f[0] != 'W' {
			out = append(out, f)
		}
	}
	out = append(out, "W"+strconv.FormatInt(n, 10))
	r.ext = strings.Join(out, " ")
}

// parseUidlist reads a uidlist of version 1, 2 or 3. Any malformed line,
// UIDs out of order, a duplicate base name or a bad base name makes the
// whole file corrupt: its UIDs cannot be trusted.
func parseUidlist(data []byte) (*uidlist, error) {
	text := string(data)
	nl := strings.IndexByte(text, '\n')
	if nl < 0 {
		return nil, fmt.Errorf("%w: no header line", errCorruptUidlist)
	}
	header, rest := text[:nl], text[nl+1:]
	fields := strings.Split(header, " ")
	ul := &uidlist{}
	var version int
	switch fields[0] {
	case "1":
		version = 1
		if len(fields) != 3 {
			return nil, fmt.Errorf("%w: bad v1 header", errCorruptUidlist)
		}
		v, err1 := parseUID(fields[1])
		n, err2 := parseUID(fields[2])
		if err1 != nil || err2 != nil || v == 0 {
			return nil, fmt.Errorf("%w: bad v1 header", errCorruptUidlist)
		}
		ul.validity, ul.next = v, n
	case "2", "3":
		version = 3
		var extra []string
		for _, f := range fields[1:] {
			if f == "" {
				return nil, fmt.Errorf("%w: bad header", errCorruptUidlist)
			}
			var err error
			switch f[0] {
			case 'V':
				ul.validity, err = parseUID(f[1:])
			case 'N':
				ul.next, err = parseUID(f[1:])
			case 'G':
				// A copy: a substring would keep the whole file alive
				// for as long as a Mailbox holds the GUID.
				ul.guid = strings.Clone(f[1:])
			default:
				extra = append(extra, f)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: bad header field %q", errCorruptUidlist, f)
			}
		}
		if ul.validity == 0 {
			return nil, fmt.Errorf("%w: no UIDVALIDITY", errCorruptUidlist)
		}
		ul.hdrExtra = strings.Clone(strings.Join(extra, " "))
	default:
		return nil, fmt.Errorf("%w: unknown version %.10q", errCorruptUidlist, fields[0])
	}
	ul.recs = make([]uidRec, 0, strings.Count(rest, "\n")+1)
	seen := make(map[string]struct{}, cap(ul.recs))
	var last uint32
	for lineNo := 2; rest != ""; lineNo++ {
		var line string
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, ""
		}
		if line == "" {
			continue
		}
		r, err := parseUidRec(line, version)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errCorruptUidlist, lineNo, err)
		}
		if r.uid <= last {
			return nil, fmt.Errorf("%w: line %d: UID %d not ascending", errCorruptUidlist, lineNo, r.uid)
		}
		if _, dup := seen[r.base]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate name", errCorruptUidlist, lineNo)
		}
		seen[r.base] = struct{}{}
		last = r.uid
		ul.recs = append(ul.recs, r)
	}
	if ul.next <= last {
		if last == ^uint32(0) {
			return nil, fmt.Errorf("%w: UIDs exhausted", errCorruptUidlist)
		}
		ul.next = last + 1
	}
	if ul.next == 0 {
		ul.next = 1
	}
	return ul, nil
}

func parseUidRec(line string, version int) (uidRec, error) {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return uidRec{}, errors.New("no name")
	}
	uid, err := parseUID(line[:sp])
	if err != nil || uid == 0 {
		return uidRec{}, errors.New("bad UID")
	}
	r := uidRec{uid: uid}
	if version == 1 {
		r.base = parseFileName(line[sp+1:]).base
	} else {
		rest := line[sp+1:]
		// The name starts at the first field that begins with ':'.
		c := -1
		for i := 0; i < len(rest); i++ {
			if rest[i] == ':' && (i == 0 || rest[i-1] == ' ') {
				c = i
				break
			}
		}
		if c < 0 {
			return uidRec{}, errors.New("no ':' before the name")
		}
		r.ext = strings.TrimSpace(rest[:c])
		r.base = rest[c+1:]
		for _, f := range strings.Fields(r.ext) {
			if len(f) < 1 || f[0] < 'A' || f[0] > 'Z' {
				return uidRec{}, errors.New("bad extension")
			}
		}
	}
	if !validBase(r.base) {
		return uidRec{}, errors.New("bad name")
	}
	return r, nil
}

// parseUID is a strict decimal uint32: digits only, no sign, no spaces.
func parseUID(s string) (uint32, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("bad number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("bad number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// writeTo writes ul in version 3.
func (ul *uidlist) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	b = append(b, "3 V"...)
	b = strconv.AppendUint(b, uint64(ul.validity), 10)
	b = append(b, " N"...)
	b = strconv.AppendUint(b, uint64(ul.next), 10)
	b = append(b, " G"...)
	b = append(b, ul.guid...)
	if ul.hdrExtra != "" {
		b = append(b, ' ')
		b = append(b, ul.hdrExtra...)
	}
	b = append(b, '\n')
	bw.Write(b)
	for i := range ul.recs {
		r := &ul.recs[i]
		b = strconv.AppendUint(b[:0], uint64(r.uid), 10)
		b = append(b, ' ')
		if r.ext != "" {
			b = append(b, r.ext...)
			b = append(b, ' ')
		}
		b = append(b, ':')
		b = append(b, r.base...)
		b = append(b, '\n')
		bw.Write(b)
	}
	return bw.Flush()
}

// newGUID returns a mailbox GUID: 32 lowercase hex digits.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readUidlistFile parses path; os.ErrNotExist when missing. A file over
// the size bound is corrupt.
func readUidlistFile(path string) (*uidlist, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() > maxUidlistSize {
		return nil, st, fmt.Errorf("%w: %d bytes", errCorruptUidlist, st.Size())
	}
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + 1)
	if _, err := io.Copy(&buf, io.LimitReader(f, maxUidlistSize+1)); err != nil {
		return nil, st, fmt.Errorf("maildir: reading %s: %w", path, err)
	}
	ul, err := parseUidlist(buf.Bytes())
	return ul, st, err
}
