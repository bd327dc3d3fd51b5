package smtp

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/maildird/maildird/server/auth"
)

// SASL mechanisms offered on submission (RFC 4954). go-sasl has PLAIN but
// no LOGIN server, and its PLAIN reports a malformed message as a generic
// error (a 454 through go-smtp), so both are here, small and strict.
const (
	mechPlain = "PLAIN"
	mechLogin = "LOGIN"
)

// maxCredential bounds a user name or password (bytes).
const maxCredential = 1024

// checkFunc verifies a login; it returns an *gosmtp.SMTPError.
type checkFunc func(authzid, user, pass string) error

// plainServer is RFC 4616 PLAIN: one message "authzid NUL authcid NUL
// passwd", sent as the initial response or after an empty challenge.
type plainServer struct {
	check      checkFunc
	challenged bool
	done       bool
}

func (p *plainServer) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case p.done:
		return nil, true, errSASLSequence
	case resp == nil && !p.challenged:
		p.challenged = true
		return []byte{}, false, nil
	}
	p.done = true
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || !validCredential(parts[1]) || !validCredential(parts[2]) || len(parts[0]) > maxCredential {
		return nil, true, errSASLMalformed
	}
	return nil, true, p.check(string(parts[0]), string(parts[1]), string(parts[2]))
}

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login): the
// server asks "Username:" and "Password:", the client may send the user
// name as the initial response. Outlook and many phones still use it.
type loginServer struct {
	check checkFunc
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch {
	case l.step == 1 && resp == nil:
		return []byte("Username:"), false, nil
	case l.user == "" && l.step <= 2:
		if !validCredential(resp) {
			return nil, true, errSASLMalformed
		}
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case l.user != "" && l.step <= 3:
		if !validCredential(resp) {
			return nil, true, errSASLMalformed
		}
		return nil, true, l.check("", l.user, string(resp))
	}
	return nil, true, errSASLSequence
}

func validCredential(b []byte) bool {
	return len(b) > 0 && len(b) <= maxCredential && utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

var (
	errSASLMalformed = replyErr(501, enhBadSyntax, "Malformed authentication response")
	errSASLSequence  = replyErr(501, enhBadSequence, "Unexpected authentication response")
)

// authErr maps an Authenticator error to the reply (RFC 4954 §6).
func authErr(err error) *gosmtp.SMTPError {
	switch {
	case errors.Is(err, auth.ErrThrottled):
		return replyErr(454, enhTempAuth, "Too many failed logins, try again later")
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrNoSuchUser), errors.Is(err, auth.ErrBadAddress):
		return replyErr(535, enhAuthFailed, "Authentication credentials invalid")
	}
	return replyErr(454, enhTempAuth, "Temporary authentication failure")
}

var _ sasl.Server = (*plainServer)(nil)
var _ sasl.Server = (*loginServer)(nil)
