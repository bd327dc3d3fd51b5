package imap

import (
	"context"
	"errors"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/maildird/maildird/maildir"
	"github.com/maildird/maildird/server/auth"
)

// authTimeout bounds one credentials check, including the throttle's delay.
const authTimeout = 30 * time.Second

// Login serves LOGIN and AUTHENTICATE PLAIN (imapserver turns the latter
// into a Login). imapserver has refused both already when the connection
// may not send a password in clear (LOGINDISABLED, RFC 3501 §6.2.3); the
// check here is a second line of defence.
func (s *session) Login(username, password string) error {
	s.touch()
	if !s.onTLS() && !s.srv.opts.AllowPlaintext && s.remote != s.local {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodePrivacyRequired, Text: "TLS is required to log in"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	user, err := s.srv.opts.Auth.Authenticate(ctx, s.remote, username, password)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrThrottled):
		s.log.Info("imap: login throttled", "user", username)
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeUnavailable, Text: "Too many failed logins, try again later"}
	case errors.Is(err, auth.ErrBadCredentials):
		s.log.Info("imap: login failed", "user", username)
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeAuthenticationFailed, Text: "Authentication failed"}
	default:
		s.log.Warn("imap: login error", "user", username, "err", err)
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeUnavailable, Text: "Authentication is unavailable, try again later"}
	}
	s.user = user
	s.log = s.log.With("user", user)
	s.ensureFolders()
	s.loggedIn()
	markLoggedIn(s.conn)
	s.log.Info("imap: logged in", "tls", s.onTLS())
	return nil
}

// specialUses are the folders every user has, created on login when
// missing.
var specialUses = []maildir.SpecialUse{
	maildir.UseSent, maildir.UseDrafts, maildir.UseTrash, maildir.UseJunk, maildir.UseArchive,
}

// ensureFolders gives a user INBOX and the special-use folders, all
// subscribed, on the first login; later logins recreate a special folder
// that is missing, so a client always finds somewhere to save sent mail.
// Failures are logged: they must not keep the user out of the mailbox.
func (s *session) ensureFolders() {
	st := s.srv.opts.Store
	folders, err := st.Folders(s.user)
	if err != nil {
		s.log.Warn("imap: listing folders", "err", err)
		return
	}
	have := map[maildir.SpecialUse]bool{}
	for _, f := range folders {
		if f.Use != maildir.UseNone && !f.NoSelect {
			have[f.Use] = true
		}
	}
	for _, use := range specialUses {
		if have[use] {
			continue
		}
		if _, err := st.SpecialFolder(s.user, use); err != nil {
			s.log.Warn("imap: creating special folder", "use", string(use), "err", err)
		}
	}
	subs, err := st.Subscriptions(s.user)
	if err == nil && len(subs) <= len(specialUses) && !containsFold(subs, "INBOX") && len(folders) <= 1 {
		// A new user: nothing but INBOX existed before the folders above.
		if err := st.Subscribe(s.user, "INBOX"); err != nil {
			s.log.Warn("imap: subscribing INBOX", "err", err)
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if eqFoldASCII(x, s) {
			return true
		}
	}
	return false
}
