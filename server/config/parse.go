package config

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Error is a configuration problem. Its text is one line: "file:line:
// what is wrong; what to do", or "file: ..." when no line is to blame (a
// required key left out).
type Error struct {
	File string
	Line int    // 0 when the problem is not on one line
	Key  string // "section.key" when one key is to blame
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// maxLineLength bounds a line so that a binary file given by mistake gets
// a clear error instead of a huge allocation.
const maxLineLength = 4096

// field is one INI key and where it lands in Config.
type field struct {
	section, key string
	kind         string // "", list, size, bool, int, listen, path
	index        []int  // reflect index path into Config
}

// fields lists every key of every section, in declaration order.
func fields() []field {
	var out []field
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		sf := ct.Field(i)
		section := sf.Tag.Get("ini")
		if section == "-" {
			continue
		}
		for j := 0; j < sf.Type.NumField(); j++ {
			kf := sf.Type.Field(j)
			key, kind, _ := strings.Cut(kf.Tag.Get("ini"), ",")
			out = append(out, field{section: section, key: key, kind: kind, index: []int{i, j}})
		}
	}
	return out
}

// Keys returns every "section.key" the loader knows, in declaration order.
func Keys() []string {
	var out []string
	for _, f := range fields() {
		out = append(out, f.section+"."+f.key)
	}
	return out
}

// Parse reads a configuration from r on top of Defaults and validates it.
// name is used in error messages and to resolve relative paths.
func Parse(name string, r io.Reader) (*Config, error) {
	c := Defaults()
	c.File = name
	p := &parser{file: name, cfg: c, lines: map[string]int{}, byName: map[string]field{}}
	for _, f := range fields() {
		p.byName[f.section+"."+f.key] = f
		if !slices.Contains(p.sections, f.section) {
			p.sections = append(p.sections, f.section)
		}
	}
	if err := p.read(r); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

type parser struct {
	file     string
	cfg      *Config
	sections []string
	byName   map[string]field
	lines    map[string]int // "section.key" -> line it was set on
}

func (p *parser) errorf(line int, key, format string, args ...any) *Error {
	return &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLineLength)
	section := ""
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			s, err := p.sectionHeader(n, line)
			if err != nil {
				return err
			}
			section = s
			continue
		}
		if err := p.assignment(n, section, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return p.errorf(n+1, "", "line longer than %d bytes; is this really the configuration file?", maxLineLength)
		}
		return p.errorf(0, "", "cannot read the configuration: %v", err)
	}
	return nil
}

func (p *parser) sectionHeader(n int, line string) (string, error) {
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return "", p.errorf(n, "", "section header %q has no closing ']'; write it as [section]", line)
	}
	if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest[0] != ';' && rest[0] != '#' {
		return "", p.errorf(n, "", "unexpected %q after the section header; put comments after ';'", rest)
	}
	name := strings.ToLower(strings.TrimSpace(line[1:end]))
	if !slices.Contains(p.sections, name) {
		return "", p.errorf(n, "", "unknown section [%s]; the sections are [%s]", name, strings.Join(p.sections, "], ["))
	}
	return name, nil
}

func (p *parser) assignment(n int, section, line string) error {
	rawKey, rawValue, ok := strings.Cut(line, "=")
	if !ok {
		return p.errorf(n, "", "%q is not a 'key = value' line; comments start with ';' or '#'", line)
	}
	key := strings.ToLower(strings.TrimSpace(rawKey))
	if section == "" {
		return p.errorf(n, key, "key %q comes before any [section]; put it under the section it belongs to", key)
	}
	name := section + "." + key
	f, known := p.byName[name]
	if !known {
		return p.errorf(n, name, "unknown key %q in [%s]; the keys there are %s", key, section, strings.Join(p.keysOf(section), ", "))
	}
	if prev, dup := p.lines[name]; dup {
		return p.errorf(n, name, "%s is set twice (first on line %d); keep one", key, prev)
	}
	value, err := unquote(rawValue)
	if err != nil {
		return p.errorf(n, name, "%s: %v", key, err)
	}
	p.lines[name] = n
	if err := p.set(f, value); err != nil {
		return p.errorf(n, name, "%s = %q: %v", key, value, err)
	}
	return nil
}

func (p *parser) keysOf(section string) []string {
	var out []string
	for _, f := range fields() {
		if f.section == section {
			out = append(out, f.key)
		}
	}
	return out
}

// unquote strips an inline comment (a ';' or '#' after white space) or,
// for a value in double quotes, takes what is between them so that a
// password may hold " ;".
func unquote(raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch c := v[i]; c {
			case '\\':
				if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
					return "", fmt.Errorf(`only \" and \\ may follow a backslash in a quoted value`)
				}
				i++
				b.WriteByte(v[i])
			case '"':
				rest := strings.TrimSpace(v[i+1:])
				if rest != "" && rest[0] != ';' && rest[0] != '#' {
					return "", fmt.Errorf("unexpected %q after the closing quote", rest)
				}
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("the quoted value has no closing '\"'")
	}
	for i := 0; i < len(v); i++ {
		if (v[i] == ';' || v[i] == '#') && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i]), nil
		}
	}
	return v, nil
}

// set parses value by the field's kind and stores it in the config.
func (p *parser) set(f field, value string) error {
	dst := reflect.ValueOf(p.cfg).Elem().FieldByIndex(f.index)
	switch f.kind {
	case "list":
		var list []string
		for _, item := range strings.Split(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		dst.Set(reflect.ValueOf(list))
	case "size":
		n, err := ParseSize(value)
		if err != nil {
			return err
		}
		dst.SetInt(n)
	case "int":
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		dst.SetInt(int64(n))
	case "bool":
		b, err := parseBool(value)
		if err != nil {
			return err
		}
		dst.SetBool(b)
	case "path":
		if value != "" && !filepath.IsAbs(value) {
			// Relative to the file, not to wherever the service manager
			// happens to start the process.
			value = filepath.Join(filepath.Dir(p.file), value)
		}
		dst.SetString(value)
	default: // "", listen: checked in validate, where the other keys are known
		dst.SetString(value)
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("write yes or no")
}

// ParseSize reads a byte count: a whole number with an optional K, M or G
// unit (also KB, MB, GB, KiB, MiB, GiB; 1024-based, case-insensitive).
func ParseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("not a size; write a number with an optional unit, such as 25M or 512K")
	}
	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size out of range")
	}
	unit := strings.ToUpper(strings.TrimSpace(s[digits:]))
	var shift uint
	switch unit {
	case "", "B":
	case "K", "KB", "KIB":
		shift = 10
	case "M", "MB", "MIB":
		shift = 20
	case "G", "GB", "GIB":
		shift = 30
	default:
		return 0, fmt.Errorf("unknown size unit %q; use K, M or G, such as 25M", unit)
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size out of range")
	}
	return n << shift, nil
}
