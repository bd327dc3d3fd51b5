package auth

import (
	"fmt"
	"strings"
)

// passwdFile is the parsed <data_dir>/passwd. It keeps every line so that a
// rewrite changes only the lines an operation touched.
type passwdFile struct {
	lines []passwdLine
	users map[string]int // normalized user -> index of its first line
}

// passwdLine is one line of the passwd file. user is "" for comments, blank
// and malformed lines, which are written back as raw.
type passwdLine struct {
	raw   string
	user  string
	hash  string
	extra string // ":uid:gid:gecos:home:shell:extra" as found, or ""
	dirty bool   // write user:hash+extra instead of raw
}

func (l passwdLine) String() string {
	if !l.dirty {
		return l.raw
	}
	return l.user + ":" + l.hash + l.extra
}

func parsePasswd(data []byte) (*passwdFile, []lineProblem) {
	f := &passwdFile{users: make(map[string]int)}
	var problems []lineProblem
	for i, raw := range splitLines(data) {
		line, reason := parsePasswdLine(raw)
		if reason == "" && line.user != "" {
			if _, dup := f.users[line.user]; dup {
				// Dovecot uses the first line too; later ones stay inert.
				reason = fmt.Sprintf("user %s listed again, this line is ignored", line.user)
			}
		}
		if reason != "" {
			problems = append(problems, lineProblem{line: i + 1, reason: reason})
			line = passwdLine{raw: raw}
		}
		if line.user != "" {
			f.users[line.user] = len(f.lines)
		}
		f.lines = append(f.lines, line)
	}
	return f, problems
}

// parsePasswdLine returns the line and "" or, for a malformed line, why.
func parsePasswdLine(raw string) (passwdLine, string) {
	if isCommentOrBlank(raw) {
		return passwdLine{raw: raw}, ""
	}
	name, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return passwdLine{}, "no ':' between user and password"
	}
	user, err := Normalize(name)
	if err != nil {
		return passwdLine{}, fmt.Sprintf("user %q is not an address", name)
	}
	if reason := checkMailboxPath(user); reason != "" {
		return passwdLine{}, fmt.Sprintf("user %q: %s", name, reason)
	}
	hash, extra, more := strings.Cut(rest, ":")
	if more {
		extra = ":" + extra
	}
	return passwdLine{raw: raw, user: user, hash: hash, extra: extra}, ""
}

func (f *passwdFile) bytes() []byte {
	out := make([]string, len(f.lines))
	for i, l := range f.lines {
		out[i] = l.String()
	}
	return joinLines(out)
}

// lookup returns the line of user, or false.
func (f *passwdFile) lookup(user string) (passwdLine, bool) {
	i, ok := f.users[user]
	if !ok {
		return passwdLine{}, false
	}
	return f.lines[i], true
}

func (f *passwdFile) add(user, hash string) {
	f.users[user] = len(f.lines)
	f.lines = append(f.lines, passwdLine{user: user, hash: hash, dirty: true})
}

// setHash replaces the password field and keeps any extra Dovecot fields.
func (f *passwdFile) setHash(user, hash string) bool {
	i, ok := f.users[user]
	if !ok {
		return false
	}
	f.lines[i].hash = hash
	f.lines[i].dirty = true
	return true
}

// remove deletes the user's line. Inert duplicate lines of the same user
// (logged as malformed) go too, so none of them becomes active afterwards.
func (f *passwdFile) remove(user string) bool {
	if _, ok := f.users[user]; !ok {
		return false
	}
	kept := f.lines[:0]
	for _, l := range f.lines {
		if l.user == user || (l.user == "" && rawPasswdUser(l.raw) == user) {
			continue
		}
		kept = append(kept, l)
	}
	f.lines = kept
	f.reindex()
	return true
}

// rawPasswdUser is the normalized user of a raw line, or "".
func rawPasswdUser(raw string) string {
	if isCommentOrBlank(raw) {
		return ""
	}
	name, _, ok := strings.Cut(raw, ":")
	if !ok {
		return ""
	}
	user, err := Normalize(name)
	if err != nil {
		return ""
	}
	return user
}

func (f *passwdFile) reindex() {
	f.users = make(map[string]int, len(f.users))
	for i, l := range f.lines {
		if l.user != "" {
			f.users[l.user] = i
		}
	}
}

func (f *passwdFile) names() []string {
	out := make([]string, 0, len(f.users))
	for u := range f.users {
		out = append(out, u)
	}
	return out
}
