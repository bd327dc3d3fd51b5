package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os/user"
	"strings"
	"time"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
	"github.com/maildird/maildird/server/config"
	"github.com/maildird/maildird/server/queue"
)

// sendmailArgs is the parsed command line of `maildird sendmail`, in the
// style of the classic sendmail(8) interface that cron and scripts use.
type sendmailArgs struct {
	fromHeaders bool   // -t: recipients from To, Cc and Bcc
	sender      string // -f or -r: the envelope sender
	rcpts       []string
}

// parseSendmailArgs accepts -t, -f/-r ADDR, and ignores -i, -oi, -oem,
// -odi, -B TYPE and -F NAME, which cron and mail(1) pass.
func parseSendmailArgs(args []string) (sendmailArgs, error) {
	var a sendmailArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		value := func(flag string) (string, error) {
			if v := strings.TrimPrefix(arg, flag); v != "" {
				return v, nil
			}
			if i+1 >= len(args) {
				return "", usagef("sendmail: %s needs a value", flag)
			}
			i++
			return args[i], nil
		}
		switch {
		case arg == "--":
			a.rcpts = append(a.rcpts, args[i+1:]...)
			i = len(args)
		case arg == "-t":
			a.fromHeaders = true
		case arg == "-i" || strings.HasPrefix(arg, "-o"):
		case strings.HasPrefix(arg, "-B") || strings.HasPrefix(arg, "-F"):
			if _, err := value(arg[:2]); err != nil {
				return a, err
			}
		case strings.HasPrefix(arg, "-f") || strings.HasPrefix(arg, "-r"):
			v, err := value(arg[:2])
			if err != nil {
				return a, err
			}
			a.sender = v
		case strings.HasPrefix(arg, "-"):
			return a, usagef("sendmail: unknown option %s", arg)
		default:
			a.rcpts = append(a.rcpts, arg)
		}
	}
	if len(a.rcpts) == 0 && !a.fromHeaders {
		return a, usagef("sendmail needs recipients, or -t to take them from the header")
	}
	return a, nil
}

// cmdSendmail reads one message on standard input and sends it: local
// recipients straight into their Maildirs, remote ones into the queue
// (DKIM-signed when the From domain is local), which the running server
// delivers within seconds.
func cmdSendmail(configPath string, args []string, e env) error {
	a, err := parseSendmailArgs(args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(e.stdin, cfg.Limits.MaxMessageSize+1))
	if err != nil {
		return fmt.Errorf("reading the message: %w", err)
	}
	if int64(len(raw)) > cfg.Limits.MaxMessageSize {
		return fmt.Errorf("the message is larger than max_message_size (%d bytes)", cfg.Limits.MaxMessageSize)
	}
	header, body := splitMessage(toCRLF(raw))
	rcpts := a.rcpts
	if a.fromHeaders {
		rcpts = append(rcpts, headerRecipients(header)...)
	}
	header = dropFields(header, "Bcc")
	qualify := func(addr string) string {
		addr = strings.Trim(strings.TrimSpace(addr), "<>")
		if addr != "" && !strings.Contains(addr, "@") {
			addr += "@" + cfg.Server.Domains[0]
		}
		return strings.ToLower(addr)
	}
	sender := a.sender
	if sender == "" {
		sender = headerFrom(header)
	}
	if sender == "" {
		sender = "postmaster@" + cfg.Server.Domains[0]
	}
	sender = qualify(sender)
	msg := completeHeader(cfg, header, sender) + body

	logger := cliLogger(e)
	users, err := openUsers(cfg, logger)
	if err != nil {
		return err
	}
	var local, remote []string
	for _, r := range rcpts {
		r = qualify(r)
		if r == "" {
			continue
		}
		l, rm, err := resolveRecipient(cfg, users, r)
		if err != nil {
			return err
		}
		local, remote = appendUnique(local, l...), appendUnique(remote, rm...)
	}
	if len(local)+len(remote) == 0 {
		return usagef("sendmail: no recipients")
	}
	if len(local) > 0 {
		store, err := maildir.Open(maildir.Options{Root: cfg.Storage.MailRoot, Logger: logger})
		if err != nil {
			return err
		}
		for _, u := range local {
			withPath := "Return-Path: <" + sender + ">\r\n" + msg
			if _, err := store.Deliver(u, "", strings.NewReader(withPath), 0); err != nil {
				return fmt.Errorf("delivering to %s: %w", u, err)
			}
		}
	}
	if len(remote) > 0 {
		id, err := enqueueMessage(cfg, sender, remote, msg)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "queued as %s for %s\n", id, strings.Join(remote, ", "))
	}
	return nil
}

// resolveRecipient splits one address into local mailboxes and remote
// addresses (aliases may forward elsewhere).
func resolveRecipient(cfg *config.Config, users *auth.Store, addr string) (local, remote []string, err error) {
	_, domain, _ := strings.Cut(addr, "@")
	if !cfg.IsLocalDomain(domain) {
		return nil, []string{addr}, nil
	}
	targets, err := users.Lookup(addr)
	if errors.Is(err, auth.ErrNoSuchUser) || errors.Is(err, auth.ErrBadAddress) {
		return nil, nil, fmt.Errorf("no such local user or alias: %s", addr)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, t := range targets {
		if _, d, _ := strings.Cut(t, "@"); cfg.IsLocalDomain(d) {
			local = append(local, t)
		} else {
			remote = append(remote, t)
		}
	}
	return local, remote, nil
}

func enqueueMessage(cfg *config.Config, sender string, rcpts []string, msg string) (string, error) {
	spool, err := queue.OpenSpool(queueDir(cfg))
	if err != nil {
		return "", err
	}
	keys, err := queue.LoadDKIM(dkimDir(cfg), cfg.Server.Domains)
	if err != nil {
		return "", err
	}
	m, err := spool.NewMessage(sender, 0, queue.MessageOptions{Sign: true}, keys)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(m, msg); err != nil {
		m.Abort()
		return "", err
	}
	for _, r := range rcpts {
		if err := m.AddRecipient(r); err != nil {
			m.Abort()
			return "", err
		}
	}
	return m.ID(), m.Commit()
}

func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, l := range list {
			found = found || l == a
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}

// toCRLF makes every line end in CRLF.
func toCRLF(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
		b = append(b, '\r', '\n')
	}
	return b
}

// splitMessage cuts a CRLF message after its header; the header keeps
// its CRLF ends without the empty line, the body starts with it.
func splitMessage(b []byte) (header, body string) {
	s := string(b)
	if strings.HasPrefix(s, "\r\n") {
		return "", s
	}
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return s[:i+2], s[i+2:]
	}
	return s, "\r\n"
}

// fields lists a header's fields (unfolded lines kept together).
func fields(header string) []string {
	var out []string
	for _, l := range strings.SplitAfter(header, "\r\n") {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1] += l
			continue
		}
		out = append(out, l)
	}
	return out
}

func fieldName(f string) string {
	name, _, _ := strings.Cut(f, ":")
	return strings.TrimSpace(name)
}

func dropFields(header, name string) string {
	var b strings.Builder
	for _, f := range fields(header) {
		if !strings.EqualFold(fieldName(f), name) {
			b.WriteString(f)
		}
	}
	return b.String()
}

func parsedHeader(header string) mail.Header {
	m, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(header + "\r\n")))
	if err != nil {
		return mail.Header{}
	}
	return m.Header
}

func headerRecipients(header string) []string {
	h := parsedHeader(header)
	var out []string
	for _, name := range []string{"To", "Cc", "Bcc"} {
		list, err := h.AddressList(name)
		if err != nil {
			// Unqualified names (cron's "root") are no RFC 5322 addresses.
			for _, v := range strings.Split(h.Get(name), ",") {
				out = append(out, strings.TrimSpace(v))
			}
			continue
		}
		for _, a := range list {
			out = append(out, a.Address)
		}
	}
	return out
}

func headerFrom(header string) string {
	list, err := parsedHeader(header).AddressList("From")
	if err != nil || len(list) != 1 {
		return ""
	}
	return list[0].Address
}

// completeHeader adds the Received field, and From, Date and Message-ID
// when the message has none (RFC 5322 §3.6).
func completeHeader(cfg *config.Config, header, sender string) string {
	h := parsedHeader(header)
	now := time.Now()
	var rnd [8]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	out := fmt.Sprintf("Received: by %s (maildird sendmail, from user %s) id %s;\r\n\t%s\r\n",
		cfg.Server.Hostname, who, id, now.Format(time.RFC1123Z))
	if h.Get("From") == "" {
		out += "From: <" + sender + ">\r\n"
	}
	if h.Get("Date") == "" {
		out += "Date: " + now.Format(time.RFC1123Z) + "\r\n"
	}
	if h.Get("Message-ID") == "" {
		out += "Message-ID: <" + id + "@" + cfg.Server.Hostname + ">\r\n"
	}
	return out + header
}
