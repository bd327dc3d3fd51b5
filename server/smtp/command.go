package smtp

// Command lines: what the front checks before go-smtp sees a line, and
// STARTTLS, which the front performs itself.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// httpMethods start the request line of an HTTP client that was pointed
// at an SMTP port (or a cross-protocol attack from a web page).
var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// knownVerbs are the commands handed to go-smtp (or handled here).
var knownVerbs = map[string]bool{
	"HELO": true, "EHLO": true, "LHLO": true, "MAIL": true, "RCPT": true,
	"DATA": true, "BDAT": true, "RSET": true, "NOOP": true, "QUIT": true,
	"VRFY": true, "EXPN": true, "HELP": true, "AUTH": true, "STARTTLS": true,
	"SEND": true, "SOML": true, "SAML": true, "TURN": true,
}

// junkVerbs do nothing for mail delivery; past Limits.MaxJunkCommands
// since the last message accepted, each one counts as an error (Postfix's
// smtpd_junk_command_limit).
var junkVerbs = map[string]bool{"NOOP": true, "RSET": true, "VRFY": true, "EXPN": true, "HELP": true}

// command checks one command line before go-smtp sees it. It reports
// whether to hand the line on; otherwise it has answered it itself.
func (f *front) command(line []byte) (pass bool, err error) {
	text := string(trimEOL(line))
	f.traceCommand(text)
	if word, _, _ := strings.Cut(text, " "); httpMethods[word] {
		f.log.Info("smtp: HTTP request on an SMTP port", "line", truncate(text, 80))
		return false, f.closeWith(500, enhNotImplemented, "This is an SMTP server, not a web server; closing connection")
	}
	verb, arg, ok := parseCommand(text)
	if !ok || !knownVerbs[verb] {
		msg := "Command unrecognized"
		if !ok {
			msg = "Bad command syntax"
		}
		return false, f.sendReply(500, enhBadSyntax, msg)
	}
	if junkVerbs[verb] {
		f.junk++
		if f.junk > f.s.limits.MaxJunkCommands {
			if err := f.countError(); err != nil {
				return false, err
			}
		}
	}
	switch verb {
	case "STARTTLS":
		return false, f.startTLS(text)
	case "HELP":
		// RFC 5321 §4.1.1.8: 211 or 214. Nothing secret in it.
		return false, f.sendReply(214, enhOK, "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH HELP; see RFC 5321")
	case "HELO", "EHLO":
		f.needEHLO = false
		f.greeting = verb
		f.setBDATOpen(false)
	case "MAIL", "AUTH":
		if f.needEHLO {
			// RFC 3207 §4.2: after TLS the client starts again with EHLO.
			return false, f.sendReply(503, enhBadSequence, "Send EHLO again after STARTTLS")
		}
	case "RSET":
		f.setBDATOpen(false)
	}
	f.expect = expectNone
	switch verb {
	case "DATA":
		f.expect = expectData
	case "AUTH":
		f.expect = expectAuth
	case "BDAT":
		f.expect = expectBDAT
		if n, last, ok := bdatChunk(arg); ok {
			f.chunkNext, f.chunkLast = n, last
		}
	}
	return true, nil
}

// rewrite adapts a command line before go-smtp parses it. Only one case:
// RFC 5321 §4.5.1 requires RCPT TO:<Postmaster> without a domain to be
// accepted, and go-smtp's path parser demands a domain, so the path is
// replaced by Options.Postmaster.
func (f *front) rewrite(line []byte) []byte {
	pm := f.s.opts.Postmaster
	if pm == "" || len(line) < 8 || !strings.EqualFold(string(line[:8]), "RCPT TO:") {
		return line
	}
	rest := strings.TrimLeft(string(line[8:]), " ")
	if len(rest) < 12 || !strings.EqualFold(rest[:12], "<postmaster>") {
		return line
	}
	return []byte("RCPT TO:<" + pm + ">" + rest[12:])
}

// parseCommand splits a command line the way go-smtp's parseCmd does, so
// that every line handed on parses there: a four-letter verb alone or
// followed by a space, or anything starting with STARTTLS.
func parseCommand(line string) (verb, arg string, ok bool) {
	if strings.HasPrefix(strings.ToUpper(line), "STARTTLS") {
		return "STARTTLS", "", true
	}
	switch {
	case len(line) == 4:
		return strings.ToUpper(line), "", true
	case len(line) < 6 || line[4] != ' ':
		return "", "", false
	}
	return strings.ToUpper(line[:4]), strings.TrimSpace(line[5:]), true
}

// bdatChunk reports the size of the chunk go-smtp reads after a BDAT
// command with these arguments (handleBdat: it reads the chunk, even to
// discard it, once the arguments parse).
func bdatChunk(arg string) (size int64, last, ok bool) {
	args := strings.Fields(arg)
	if len(args) == 0 || len(args) > 2 {
		return 0, false, false
	}
	if len(args) == 2 {
		if !strings.EqualFold(args[1], "LAST") {
			return 0, false, false
		}
		last = true
	}
	n, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		return 0, false, false
	}
	return int64(n), last, true
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// traceCommand logs a command at debug level, without credentials.
func (f *front) traceCommand(text string) {
	if !f.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if len(text) >= 4 && strings.EqualFold(text[:4], "AUTH") {
		if mech, _, _ := strings.Cut(strings.TrimSpace(text[4:]), " "); mech != "" {
			text = "AUTH " + mech + " <redacted>"
		}
	}
	f.log.Debug("smtp: <- " + truncate(text, 200))
}

// startTLS performs STARTTLS (RFC 3207) here rather than in go-smtp, so
// that the front keeps seeing the dialogue in plain text.
func (f *front) startTLS(text string) error {
	switch {
	case f.tlsState != nil:
		return f.sendReply(503, enhBadSequence, "Already running TLS")
	case f.s.opts.TLS == nil:
		return f.sendReply(502, enhNotImplemented, "TLS not available")
	case !strings.EqualFold(strings.TrimSpace(text), "STARTTLS"):
		return f.sendReply(501, enhBadArgs, "Syntax error (no parameters allowed)")
	case f.session != nil && f.session.busy():
		return f.sendReply(503, enhBadSequence, "STARTTLS is not allowed after AUTH or in a mail transaction")
	}
	// Anything pipelined behind STARTTLS was sent in clear text before the
	// handshake: it goes with the old reader, never executed (STARTTLS
	// command injection, RFC 3207 §6).
	if n := f.br.Buffered(); n > 0 {
		f.log.Info("smtp: discarded input pipelined after STARTTLS", "bytes", n)
		f.br.Discard(n)
	}
	if err := f.sendReply(220, enhOK, "Ready to start TLS"); err != nil {
		return err
	}
	tc := tls.Server(f.conn, f.s.opts.TLS)
	f.raw.SetDeadline(time.Now().Add(f.s.limits.CommandTimeout))
	if err := tc.HandshakeContext(f.ctx); err != nil {
		f.log.Debug("smtp: STARTTLS handshake failed", "err", err)
		f.Close()
		return errClosed
	}
	st := tc.ConnectionState()
	f.mu.Lock()
	f.conn = tc
	f.mu.Unlock()
	f.tlsState = &st
	f.br = bufio.NewReaderSize(tc, 4096)
	f.needEHLO = true
	if f.session != nil {
		f.session.Reset()
	}
	f.log.Debug("smtp: TLS started", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	return nil
}
