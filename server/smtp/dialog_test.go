package smtp

import (
	"bufio"
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDialogs runs the scripted exchanges in testdata/*.dialog, one file
// per concern. Syntax, one directive per line:
//
//	# comment (each file names the RFC section it checks)
//	! mode mx|submission|submissions   server mode (before the first c:)
//	! from 127.0.0.2                   client address (before the first c:)
//	! limit max_errors 5               a Limits field: max_errors,
//	                                   max_recipients, max_message_size,
//	                                   max_hops, max_junk
//	! allow_plaintext | ! postmaster ADDR | ! queue
//	! starttls                         client side TLS handshake now
//	! delivered USER N                 USER's INBOX holds N messages
//	c: TEXT                            send TEXT and CRLF
//	c" GO-QUOTED                       send exactly strconv.Unquote(...)
//	s: PREFIX                          next reply line starts with PREFIX
//	s~ REGEXP                          next reply line matches REGEXP
//	s* PREFIX                          skip lines until one starts with PREFIX
//	s! PREFIX                          no line of the last reply has PREFIX
//	s: <closed>                        the server closed the connection
func TestDialogs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.dialog")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dialogs: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".dialog"), func(t *testing.T) {
			runDialog(t, file)
		})
	}
}

func runDialog(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	mode, from := MX, "127.0.0.1"
	var tweaks []func(*Options)
	i := 0
	// Set-up directives come first.
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.HasPrefix(l, "! ") {
			break
		}
		f := strings.Fields(l[2:])
		switch f[0] {
		case "mode":
			mode = map[string]Mode{"mx": MX, "submission": Submission, "submissions": SubmissionTLS}[f[1]]
		case "from":
			from = f[1]
		case "allow_plaintext":
			tweaks = append(tweaks, func(o *Options) { o.AllowPlaintext = true })
		case "queue":
			tweaks = append(tweaks, func(o *Options) { o.Queue = &fakeQueue{} })
		case "postmaster":
			tweaks = append(tweaks, func(o *Options) { o.Postmaster = f[1] })
		case "limit":
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			tweaks = append(tweaks, limitTweak(t, f[1], n))
		default:
			goto script
		}
	}
script:
	h := newHarness(t, mode, func(o *Options) {
		for _, tw := range tweaks {
			tw(o)
		}
	})
	r := h.raw(from)
	if mode == SubmissionTLS {
		r.startTLS(h)
	}
	var last []string // lines of the last reply read, for s!
	for ; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r")
		where := file + ":" + strconv.Itoa(i+1)
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if len(l) < 3 {
			t.Fatalf("%s: bad line %q", where, l)
		}
		op, arg := l[:2], strings.TrimPrefix(l[2:], " ")
		switch op {
		case "c:":
			r.send(arg + "\r\n")
		case `c"`:
			s, err := strconv.Unquote(`"` + arg + `"`)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			r.send(s)
		case "s:", "s~", "s*":
			got, err := r.line()
			if arg == "<closed>" {
				if err == nil {
					t.Fatalf("%s: want the connection closed, got %q", where, got)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: want %q, got %q, %v", where, arg, got, err)
			}
			if op == "s*" {
				for n := 0; !strings.HasPrefix(got, arg); n++ {
					if got, err = r.line(); err != nil || n > 100 {
						t.Fatalf("%s: no line starting %q (%v)", where, arg, err)
					}
					last = append(last, got)
				}
				continue
			}
			if len(got) > 3 && got[3] == '-' && (len(last) == 0 || isFinal(last[len(last)-1])) {
				last = nil
			} else if len(last) > 0 && isFinal(last[len(last)-1]) {
				last = nil
			}
			last = append(last, got)
			ok := strings.HasPrefix(got, arg)
			if op == "s~" {
				ok = regexp.MustCompile(arg).MatchString(got)
			}
			if !ok {
				t.Fatalf("%s: want %s %q, got %q", where, op, arg, got)
			}
		case "s!":
			for _, got := range last {
				if strings.HasPrefix(got[min(4, len(got)):], arg) {
					t.Fatalf("%s: reply has %q: %q", where, arg, last)
				}
			}
		case "! ":
			f := strings.Fields(arg)
			switch f[0] {
			case "starttls":
				r.startTLS(h)
			case "delivered":
				want, _ := strconv.Atoi(f[2])
				waitFor(t, func() bool { return len(h.store.messages(f[1])) == want })
			default:
				t.Fatalf("%s: unknown directive %q", where, arg)
			}
		default:
			t.Fatalf("%s: bad line %q", where, l)
		}
	}
}

func isFinal(line string) bool { return len(line) < 4 || line[3] != '-' }

func limitTweak(t *testing.T, name string, n int) func(*Options) {
	return func(o *Options) {
		switch name {
		case "max_errors":
			o.Limits.MaxErrors = n
		case "max_recipients":
			o.Limits.MaxRecipients = n
		case "max_message_size":
			o.Limits.MaxMessageSize = int64(n)
		case "max_hops":
			o.Limits.MaxHops = n
		case "max_junk":
			o.Limits.MaxJunkCommands = n
		case "command_timeout_ms":
			o.Limits.CommandTimeout = time.Duration(n) * time.Millisecond
		default:
			t.Fatalf("unknown limit %q", name)
		}
	}
}

// startTLS turns the raw connection into a TLS client connection.
func (r *rawConn) startTLS(h *harness) {
	r.t.Helper()
	tc := tls.Client(r.c, h.clientTLS)
	if err := tc.Handshake(); err != nil {
		r.t.Fatalf("TLS handshake: %v", err)
	}
	r.c = tc
	r.br = bufio.NewReader(tc)
}
