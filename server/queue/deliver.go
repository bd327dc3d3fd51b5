package queue

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/dnsresolv"
)

// result is what one delivery attempt did for one recipient.
type result struct {
	sent   bool   // 250 from the remote side
	perm   bool   // a permanent failure (5xx, null MX, no such domain)
	status string // enhanced status code, RFC 3463
	text   string // the reply or the local reason
	remote string // the host that answered
}

func temp(status, format string, args ...any) result {
	return result{status: status, text: fmt.Sprintf(format, args...)}
}

func perm(status, format string, args ...any) result {
	return result{perm: true, status: status, text: fmt.Sprintf(format, args...)}
}

func allOf(rcpts []string, r result) map[string]result {
	out := make(map[string]result, len(rcpts))
	for _, a := range rcpts {
		out[a] = r
	}
	return out
}

// maxHosts and maxAddrs bound one attempt: at most this many MX hosts,
// and addresses per host, are tried.
const (
	maxHosts = 5
	maxAddrs = 2
)

// target is one server to try.
type target struct {
	host  string // MX or smarthost name (TLS server name)
	addr  string // ip:port or host:port to dial
	plain bool   // skip STARTTLS: the handshake failed with this server
}

// errTLSHandshake marks a failed STARTTLS handshake. Direct delivery
// then tries the same server once more in clear text, as opportunistic
// TLS (RFC 7435) means; a smarthost never.
var errTLSHandshake = errors.New("TLS handshake failed")

// deliverDomain makes one attempt for the recipients of one domain: each
// MX in order (or the smarthost), one connection for all recipients.
func (q *Queue) deliverDomain(ctx context.Context, log *slog.Logger, env *Envelope, domain string, rcpts []string) map[string]result {
	var hosts []string
	port := q.opts.Port
	if sh := q.opts.Smarthost.Addr; sh != "" {
		h, p, err := net.SplitHostPort(sh)
		if err != nil {
			return allOf(rcpts, temp("4.3.5", "smarthost %q: %v", sh, err))
		}
		hosts, port = []string{h}, p
	} else {
		var err error
		hosts, err = dnsresolv.MXHosts(ctx, q.opts.Resolver, domain, nil)
		switch {
		case errors.Is(err, dnsresolv.ErrPermanent):
			return allOf(rcpts, perm("5.1.10", "%s accepts no mail (null MX)", domain))
		case dnsresolv.IsPermanent(err):
			return allOf(rcpts, perm("5.1.2", "domain %s not found: %v", domain, err))
		case err != nil:
			return allOf(rcpts, temp("4.4.3", "looking up the mail servers of %s: %v", domain, err))
		}
	}
	last := temp("4.4.1", "no mail server of %s could be reached", domain)
	for _, t := range q.targets(ctx, hosts, port, &last) {
		if ctx.Err() != nil {
			break
		}
		res, final, err := q.tryTarget(ctx, log, t, env, rcpts)
		if !final && errors.Is(err, errTLSHandshake) && q.opts.Smarthost.Addr == "" {
			log.Warn("queue: STARTTLS failed, trying again without TLS", "host", t.host, "addr", t.addr, "err", err)
			t.plain = true
			res, final, err = q.tryTarget(ctx, log, t, env, rcpts)
		}
		if final {
			return res
		}
		log.Info("queue: server unusable, trying the next", "host", t.host, "addr", t.addr, "err", err)
		last = temp("4.4.1", "%s (%s): %v", t.host, t.addr, err)
		last.remote = t.host
		var se *gosmtp.SMTPError
		if errors.As(err, &se) {
			last.status, last.text = statusOf(se), replyText(se)
		}
	}
	return allOf(rcpts, last)
}

// targets lists the addresses to try, hosts in order. The smarthost is
// dialled by name.
func (q *Queue) targets(ctx context.Context, hosts []string, port string, last *result) []target {
	var out []target
	if q.opts.Smarthost.Addr != "" {
		return []target{{host: hosts[0], addr: net.JoinHostPort(hosts[0], port)}}
	}
	for _, h := range hosts[:min(len(hosts), maxHosts)] {
		ips, err := q.opts.Resolver.LookupIP(ctx, h)
		if err != nil {
			*last = temp("4.4.3", "looking up %s: %v", h, err)
			continue
		}
		for _, ip := range ips[:min(len(ips), maxAddrs)] {
			out = append(out, target{host: h, addr: net.JoinHostPort(ip.String(), port)})
		}
	}
	return out
}

// tryTarget runs one SMTP session. final is false when the server could
// not be used at all (connection, greeting, EHLO, TLS, a 4xx to MAIL):
// then the next server is tried. Once a recipient got an answer the
// results are final for this attempt.
func (q *Queue) tryTarget(ctx context.Context, log *slog.Logger, t target, env *Envelope, rcpts []string) (map[string]result, bool, error) {
	conn, err := q.opts.Dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	c, tlsState, err := q.open(ctx, conn, t)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	log = log.With("host", t.host, "addr", t.addr, "tls", tlsState)
	log.Info("queue: connected")
	c.CommandTimeout, c.SubmissionTimeout = q.opts.CommandTimeout, q.opts.DataTimeout
	if sh := q.opts.Smarthost; sh.Addr != "" && sh.User != "" {
		if err := q.auth(c); err != nil {
			return nil, false, fmt.Errorf("smarthost login: %w", err)
		}
	}
	msg, size, err := q.spool.openMessage(env)
	if err != nil {
		return allOf(rcpts, temp("4.3.0", "reading the queued message: %v", err)), true, nil
	}
	defer msg.Close()
	if limit, ok := c.MaxMessageSize(); ok && limit > 0 && size > int64(limit) {
		c.Quit()
		return allOf(rcpts, result{perm: true, status: "5.3.4", remote: t.host,
			text: fmt.Sprintf("message of %d bytes exceeds the %d bytes %s accepts (SIZE)", size, limit, t.host)}), true, nil
	}
	if err := c.Mail(env.From, &gosmtp.MailOptions{Size: size}); err != nil {
		var se *gosmtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return allOf(rcpts, fromSMTP(se, t.host)), true, nil
		}
		return nil, false, err
	}
	out := map[string]result{}
	var accepted []string
	for _, a := range rcpts {
		err := c.Rcpt(a, nil)
		var se *gosmtp.SMTPError
		switch {
		case err == nil:
			accepted = append(accepted, a)
		case errors.As(err, &se):
			out[a] = fromSMTP(se, t.host)
		default:
			return nil, false, err // the connection broke: nothing was sent
		}
	}
	if len(accepted) == 0 {
		c.Quit()
		return out, true, nil
	}
	// From here on the message may have reached the server: the results
	// are final, another server is not tried in this attempt.
	w, err := c.Data()
	if err == nil {
		_, err = io.Copy(w, msg)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	var se *gosmtp.SMTPError
	for _, a := range accepted {
		switch {
		case err == nil:
			out[a] = result{sent: true, status: "2.0.0", text: "250 accepted", remote: t.host}
		case errors.As(err, &se):
			out[a] = fromSMTP(se, t.host)
		default:
			out[a] = result{status: "4.4.2", text: "connection lost during the message: " + err.Error(), remote: t.host}
		}
	}
	if err == nil {
		c.Quit()
	}
	return out, true, nil
}

// open greets, says EHLO with our hostname and sets up TLS: implicit for
// a smarthost on 465, STARTTLS required for other smarthosts, STARTTLS
// when offered for direct delivery. tlsState is for the log.
func (q *Queue) open(ctx context.Context, conn net.Conn, t target) (*gosmtp.Client, string, error) {
	sh := q.opts.Smarthost
	if sh.Addr != "" && implicitTLS(sh) {
		tc := tls.Client(conn, q.verifiedConfig(t.host))
		if err := q.handshake(ctx, tc); err != nil {
			return nil, "", err
		}
		c := gosmtp.NewClient(tc)
		c.CommandTimeout = q.opts.CommandTimeout
		if err := c.Hello(q.opts.Hostname); err != nil {
			c.Close()
			return nil, "", err
		}
		return c, "implicit " + tlsVersion(tc), nil
	}
	// go-smtp says EHLO "localhost" before STARTTLS, so the first EHLO
	// and STARTTLS are done here; go-smtp continues from a fresh greeting.
	ext, err := q.prelude(conn)
	if err != nil {
		return nil, "", err
	}
	state := "none"
	if t.plain {
		state = "none (STARTTLS failed)"
	}
	var next net.Conn = conn
	if _, ok := ext["STARTTLS"]; ok && !t.plain {
		var cfg *tls.Config
		verified := false
		if sh.Addr != "" {
			cfg = q.verifiedConfig(t.host)
		} else {
			cfg = q.opportunisticConfig(t.host, &verified)
		}
		if err := q.command(conn, "STARTTLS", 220); err != nil {
			return nil, "", err
		}
		tc := tls.Client(conn, cfg)
		if err := q.handshake(ctx, tc); err != nil {
			return nil, "", fmt.Errorf("STARTTLS: %w: %w", errTLSHandshake, err)
		}
		next = tc
		state = "starttls " + tlsVersion(tc)
		if sh.Addr == "" && !verified {
			state += " unverified"
		}
	} else if sh.Addr != "" {
		return nil, "", errors.New("the smarthost does not offer STARTTLS; not sending in clear text")
	}
	c := gosmtp.NewClient(&greetedConn{Conn: next, greeting: strings.NewReader("220 " + t.host + "\r\n")})
	c.CommandTimeout = q.opts.CommandTimeout
	if err := c.Hello(q.opts.Hostname); err != nil {
		c.Close()
		return nil, "", err
	}
	return c, state, nil
}

func implicitTLS(sh Smarthost) bool {
	switch sh.TLS {
	case "implicit":
		return true
	case "starttls":
		return false
	}
	_, port, _ := net.SplitHostPort(sh.Addr)
	return port == "465"
}

func tlsVersion(tc *tls.Conn) string {
	return strings.ReplaceAll(tls.VersionName(tc.ConnectionState().Version), " ", "")
}

func (q *Queue) handshake(ctx context.Context, tc *tls.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, q.opts.CommandTimeout)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

// verifiedConfig checks the certificate against the roots (the system's
// unless RootCAs is set): the smarthost, where a password is sent.
func (q *Queue) verifiedConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: q.opts.RootCAs, MinVersion: tls.VersionTLS12}
}

// opportunisticConfig encrypts whatever the certificate (RFC 7435): an
// MX with a self-signed certificate still gets mail, encrypted; whether
// it verified is only logged.
func (q *Queue) opportunisticConfig(host string, verified *bool) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: q.opts.RootCAs, Intermediates: inter})
			*verified = err == nil
			return nil
		},
	}
}

// prelude reads the greeting and says EHLO (HELO if refused), returning
// the extensions.
func (q *Queue) prelude(conn net.Conn) (map[string]string, error) {
	conn.SetDeadline(time.Now().Add(q.opts.CommandTimeout))
	defer conn.SetDeadline(time.Time{})
	// Nothing can be read ahead of a reply: the server says nothing more
	// until the next command, so go-smtp or TLS later start clean.
	r := textproto.NewReader(bufio.NewReader(conn))
	if _, _, err := r.ReadResponse(220); err != nil {
		return nil, replyError(err)
	}
	if _, err := fmt.Fprintf(conn, "EHLO %s\r\n", q.opts.Hostname); err != nil {
		return nil, err
	}
	_, msg, err := r.ReadResponse(250)
	if err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code < 500 {
			return nil, replyError(err)
		}
		if _, err := fmt.Fprintf(conn, "HELO %s\r\n", q.opts.Hostname); err != nil {
			return nil, err
		}
		if _, _, err := r.ReadResponse(250); err != nil {
			return nil, replyError(err)
		}
		return map[string]string{}, nil
	}
	ext := map[string]string{}
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		ext[strings.ToUpper(k)] = v
	}
	return ext, nil
}

// command sends one command on the raw connection and checks the code.
func (q *Queue) command(conn net.Conn, cmd string, code int) error {
	conn.SetDeadline(time.Now().Add(q.opts.CommandTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
		return err
	}
	_, _, err := textproto.NewReader(bufio.NewReader(conn)).ReadResponse(code)
	return replyError(err)
}

func replyError(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &gosmtp.SMTPError{Code: te.Code, Message: te.Msg}
	}
	return err
}

// greetedConn gives go-smtp a greeting to read on a connection whose
// real greeting this package has already read.
type greetedConn struct {
	net.Conn
	greeting *strings.Reader
}

func (g *greetedConn) Read(p []byte) (int, error) {
	if g.greeting.Len() > 0 {
		return g.greeting.Read(p)
	}
	return g.Conn.Read(p)
}

// auth logs in to the smarthost: PLAIN, or LOGIN when that is all it offers.
func (q *Queue) auth(c *gosmtp.Client) error {
	sh := q.opts.Smarthost
	switch {
	case c.SupportsAuth("PLAIN"):
		return c.Auth(sasl.NewPlainClient("", sh.User, sh.Password))
	case c.SupportsAuth("LOGIN"):
		return c.Auth(sasl.NewLoginClient(sh.User, sh.Password))
	}
	return errors.New("the smarthost offers neither AUTH PLAIN nor LOGIN")
}

// fromSMTP turns a reply into a result: 5xx permanent, others temporary.
func fromSMTP(se *gosmtp.SMTPError, host string) result {
	return result{perm: se.Code >= 500, status: statusOf(se), text: replyText(se), remote: host}
}

func statusOf(se *gosmtp.SMTPError) string {
	e := se.EnhancedCode
	if e != gosmtp.NoEnhancedCode && e != (gosmtp.EnhancedCode{}) && e[0] >= 2 {
		return fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
	}
	if se.Code >= 500 {
		return "5.0.0"
	}
	return "4.0.0"
}

func replyText(se *gosmtp.SMTPError) string {
	text := strconv.Itoa(se.Code)
	if e := se.EnhancedCode; e != gosmtp.NoEnhancedCode && e != (gosmtp.EnhancedCode{}) {
		text += fmt.Sprintf(" %d.%d.%d", e[0], e[1], e[2])
	}
	return text + " " + strings.ReplaceAll(se.Message, "\n", " ")
}
