package auth

import (
	"fmt"
	"strings"
)

// aliasFile is the parsed <data_dir>/aliases, kept line by line like
// passwdFile so rewrites touch only what changed.
type aliasFile struct {
	lines   []aliasLine
	aliases map[string]int // normalized alias -> index of its line
}

// aliasLine is one line; address is "" for comments, blank and malformed
// lines, which are written back as raw.
type aliasLine struct {
	raw     string
	address string
	targets []string
	dirty   bool
}

func (l aliasLine) String() string {
	if !l.dirty {
		return l.raw
	}
	return l.address + ": " + strings.Join(l.targets, ", ")
}

func parseAliases(data []byte) (*aliasFile, []lineProblem) {
	f := &aliasFile{aliases: make(map[string]int)}
	var problems []lineProblem
	for i, raw := range splitLines(data) {
		line, reason := parseAliasLine(raw)
		if reason == "" && line.address != "" {
			if _, dup := f.aliases[line.address]; dup {
				reason = fmt.Sprintf("alias %s listed again, this line is ignored", line.address)
			}
		}
		if reason != "" {
			problems = append(problems, lineProblem{line: i + 1, reason: reason})
			line = aliasLine{raw: raw}
		}
		if line.address != "" {
			f.aliases[line.address] = len(f.lines)
		}
		f.lines = append(f.lines, line)
	}
	return f, problems
}

func parseAliasLine(raw string) (aliasLine, string) {
	if isCommentOrBlank(raw) {
		return aliasLine{raw: raw}, ""
	}
	name, list, ok := strings.Cut(raw, ":")
	if !ok {
		return aliasLine{}, "no ':' after the alias address"
	}
	address, err := Normalize(strings.TrimSpace(name))
	if err != nil {
		return aliasLine{}, fmt.Sprintf("alias %q is not an address", strings.TrimSpace(name))
	}
	targets, err := parseTargets(list)
	if err != nil {
		return aliasLine{}, fmt.Sprintf("alias %s: %v", address, err)
	}
	return aliasLine{raw: raw, address: address, targets: targets}, ""
}

// parseTargets reads "a@x, b@y" into normalized, deduplicated addresses.
func parseTargets(list string) ([]string, error) {
	var targets []string
	seen := make(map[string]bool)
	for _, field := range strings.Split(list, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		t, err := Normalize(field)
		if err != nil {
			return nil, fmt.Errorf("target %q is not an address", field)
		}
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("no targets")
	}
	return targets, nil
}

func (f *aliasFile) bytes() []byte {
	out := make([]string, len(f.lines))
	for i, l := range f.lines {
		out[i] = l.String()
	}
	return joinLines(out)
}

func (f *aliasFile) lookup(address string) ([]string, bool) {
	i, ok := f.aliases[address]
	if !ok {
		return nil, false
	}
	return f.lines[i].targets, true
}

func (f *aliasFile) add(address string, targets []string) {
	f.aliases[address] = len(f.lines)
	f.lines = append(f.lines, aliasLine{address: address, targets: targets, dirty: true})
}

// remove deletes the alias line and any inert duplicate lines for it.
func (f *aliasFile) remove(address string) bool {
	if _, ok := f.aliases[address]; !ok {
		return false
	}
	kept := f.lines[:0]
	for _, l := range f.lines {
		if l.address == address || (l.address == "" && rawAliasAddress(l.raw) == address) {
			continue
		}
		kept = append(kept, l)
	}
	f.lines = kept
	f.aliases = make(map[string]int, len(f.aliases))
	for i, l := range f.lines {
		if l.address != "" {
			f.aliases[l.address] = i
		}
	}
	return true
}

func rawAliasAddress(raw string) string {
	if isCommentOrBlank(raw) {
		return ""
	}
	name, _, ok := strings.Cut(raw, ":")
	if !ok {
		return ""
	}
	address, err := Normalize(strings.TrimSpace(name))
	if err != nil {
		return ""
	}
	return address
}

func (f *aliasFile) all() []Alias {
	out := make([]Alias, 0, len(f.aliases))
	for _, l := range f.lines {
		if l.address != "" {
			out = append(out, Alias{Address: l.address, Targets: append([]string(nil), l.targets...)})
		}
	}
	return out
}
