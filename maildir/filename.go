package maildir

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Flag is a set of IMAP system flags, stored in a message file's name as
// the Maildir info letters after ":2,".
type Flag uint8

// System flags and their Maildir letters.
const (
	FlagSeen      Flag = 1 << iota // S, \Seen
	FlagAnswered                   // R, \Answered
	FlagFlagged                    // F, \Flagged
	FlagDeleted                    // T, \Deleted
	FlagDraft                      // D, \Draft
	FlagForwarded                  // P, $Forwarded (Maildir "passed")
)

// allFlags is every Flag bit this package knows.
const allFlags = FlagSeen | FlagAnswered | FlagFlagged | FlagDeleted | FlagDraft | FlagForwarded

// flagLetters lists the flags in the order their letters are written: ASCII
// order, as Maildir requires and Dovecot writes (D F P R S T).
var flagLetters = [...]struct {
	f Flag
	c byte
}{
	{FlagDraft, 'D'}, {FlagFlagged, 'F'}, {FlagForwarded, 'P'},
	{FlagAnswered, 'R'}, {FlagSeen, 'S'}, {FlagDeleted, 'T'},
}

// String gives the Maildir letters of f, for logs and tests.
func (f Flag) String() string {
	var b []byte
	for _, l := range flagLetters {
		if f&l.f != 0 {
			b = append(b, l.c)
		}
	}
	return string(b)
}

// infoSep separates a message's base name from its flags (Maildir "info").
const infoSep = ":2,"

// fileInfo is what a message file's name says about it.
type fileInfo struct {
	base  string // the name without ":2,<letters>": the uidlist key
	flags Flag
	kw    uint32 // keyword letters a-z as bits 0-25
	other uint32 // uppercase letters this package does not know (kept on rename)
}

// parseFileName splits a file name from new/ or cur/. A name without ":2,"
// (a fresh delivery, or a file another program wrote) has no flags. Letters
// after ":2," that are neither known flags nor a-z are ignored.
func parseFileName(name string) fileInfo {
	i := strings.LastIndex(name, infoSep)
	if i < 0 {
		return fileInfo{base: name}
	}
	fi := fileInfo{base: name[:i]}
	for _, c := range []byte(name[i+len(infoSep):]) {
		switch {
		case c >= 'a' && c <= 'z':
			fi.kw |= 1 << (c - 'a')
		case c >= 'A' && c <= 'Z':
			if f := letterFlag(c); f != 0 {
				fi.flags |= f
			} else {
				fi.other |= 1 << (c - 'A')
			}
		}
	}
	return fi
}

func letterFlag(c byte) Flag {
	for _, l := range flagLetters {
		if l.c == c {
			return l.f
		}
	}
	return 0
}

// curName is the name of a message in cur/: base, ":2,", then the letters
// in ASCII order (uppercase flags first, then keyword letters).
func curName(base string, flags Flag, kw, other uint32) string {
	var b strings.Builder
	b.Grow(len(base) + len(infoSep) + 8)
	b.WriteString(base)
	b.WriteString(infoSep)
	for c := byte('A'); c <= 'Z'; c++ {
		if f := letterFlag(c); f != 0 {
			if flags&f != 0 {
				b.WriteByte(c)
			}
		} else if other&(1<<(c-'A')) != 0 {
			b.WriteByte(c)
		}
	}
	for i := 0; i < 26; i++ {
		if kw&(1<<i) != 0 {
			b.WriteByte(byte('a' + i))
		}
	}
	return b.String()
}

// sizesFromBase reads ",S=<size>" and ",W=<vsize>" from a base name. Each
// is -1 when missing or malformed.
func sizesFromBase(base string) (size, vsize int64) {
	size, vsize = -1, -1
	i := strings.IndexByte(base, ',')
	if i < 0 {
		return
	}
	for _, field := range strings.Split(base[i+1:], ",") {
		if len(field) < 3 || field[1] != '=' {
			continue
		}
		n, err := strconv.ParseInt(field[2:], 10, 64)
		if err != nil || n < 0 {
			continue
		}
		switch field[0] {
		case 'S':
			size = n
		case 'W':
			vsize = n
		}
	}
	return
}

// validBase reports whether name can be a message base name: no path
// separator, not "." or "..", no NUL, not empty, no ":2," inside.
func validBase(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return false
	}
	// One pass over the bytes: this runs for every file of every scan.
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '/', 0:
			return false
		case ':':
			if strings.HasPrefix(name[i:], infoSep) {
				return false
			}
		}
	}
	return true
}

// uniqueNames makes message base names the way Dovecot does:
// "<unix seconds>.M<microseconds>P<pid>Q<counter>.<host>". The counter
// keeps names from one process unique even within one microsecond.
type uniqueNames struct {
	host    string
	pid     int
	counter atomic.Uint64
}

func newUniqueNames() *uniqueNames {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	// Maildir: '/' and ':' cannot appear in the host part.
	h = strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`).Replace(h)
	return &uniqueNames{host: h, pid: os.Getpid()}
}

// next returns a fresh base name without sizes.
func (u *uniqueNames) next(now time.Time) string {
	n := u.counter.Add(1)
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, u.pid, n, u.host)
}

// withSizes appends Dovecot's ",S=<size>,W=<vsize>" to a base name.
func withSizes(base string, size, vsize int64) string {
	return base + ",S=" + strconv.FormatInt(size, 10) + ",W=" + strconv.FormatInt(vsize, 10)
}
