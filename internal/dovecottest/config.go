package dovecottest

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/template"
)

// confParams is everything dovecot.conf depends on.
type confParams struct {
	StateDir   string // holds run/ (base_dir), state/ (state_dir), the log
	MailRoot   string
	PasswdPath string
	LogPath    string
	IMAPPort   int
	POP3Port   int
	ID         identity
	Extra      string
}

// confTemplate is a complete Dovecot 2.3 configuration: started with -c, the
// master reads nothing else (no /etc/dovecot).
//
// pop3_uidl_format is deliberately left at its default. In Dovecot
// 2.3.19.1 (`doveconf -a`) that default is %08Xu%08Xv, which prints
// lowercase hex (UID 1, UIDVALIDITY 0x6b033b14 -> 000000016b033b14): the
// format maildird copies.
//
// The inbox namespace sets separator = / so that IMAP names match DESIGN.md
// (Family/Photos on disk as .Family.Photos); without it Dovecot shows its
// Maildir++ separator '.'. Options.Extra may repeat the block to change it.
var confTemplate = template.Must(template.New("dovecot.conf").Parse(`# Written by maildird's internal/dovecottest for one test.
base_dir = {{.StateDir}}/run
state_dir = {{.StateDir}}/state
log_path = {{.LogPath}}
instance_name = dovecottest
protocols = imap pop3
listen = 127.0.0.1
ssl = no
# Dovecot 2.3 name; 2.4 calls it auth_allow_cleartext = yes.
disable_plaintext_auth = no
auth_username_format = %Lu
auth_mechanisms = plain login

default_internal_user = {{.ID.InternalUser}}
default_internal_group = {{.ID.InternalGroup}}
default_login_user = {{.ID.LoginUser}}
mail_uid = {{.ID.MailUID}}
mail_gid = {{.ID.MailGID}}
first_valid_uid = {{.ID.MailUID}}
last_valid_uid = {{.ID.MailUID}}
first_valid_gid = {{.ID.MailGID}}
last_valid_gid = {{.ID.MailGID}}

mail_location = maildir:{{.MailRoot}}/%d/%n
mail_fsync = always
maildir_very_dirty_syncs = no

namespace inbox {
  inbox = yes
  separator = /
}

passdb {
  driver = passwd-file
  args = {{.PasswdPath}}
}
userdb {
  driver = passwd-file
  args = {{.PasswdPath}}
}

service imap-login {
{{- if not .ID.Root}}
  chroot =
{{- end}}
  inet_listener imap {
    address = 127.0.0.1
    port = {{.IMAPPort}}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
{{- if not .ID.Root}}
  chroot =
{{- end}}
  inet_listener pop3 {
    address = 127.0.0.1
    port = {{.POP3Port}}
  }
  inet_listener pop3s {
    port = 0
  }
}
{{- if not .ID.Root}}
# chroot needs root; without it these run unconfined as the test's user.
service anvil {
  chroot =
}
service ipc {
  chroot =
}
{{- end}}
{{if .Extra}}
# Options.Extra
{{.Extra}}
{{end}}`))

// templateID exposes identity's fields to the template.
type templateID struct {
	Root                                   bool
	InternalUser, InternalGroup, LoginUser string
	MailUID, MailGID                       int
}

// renderConfig returns dovecot.conf for p. Values that would let a path or
// name spill into the syntax of the file are refused.
func renderConfig(p confParams) (string, error) {
	for name, v := range map[string]string{
		"state dir": p.StateDir, "mail root": p.MailRoot,
		"passwd-file": p.PasswdPath, "log path": p.LogPath,
	} {
		if err := checkConfPath(name, v); err != nil {
			return "", err
		}
	}
	for name, port := range map[string]int{"IMAP": p.IMAPPort, "POP3": p.POP3Port} {
		if port <= 0 || port > 65535 {
			return "", fmt.Errorf("dovecottest: %s port %d out of range", name, port)
		}
	}
	data := struct {
		confParams
		ID templateID
	}{p, templateID{
		Root:          p.ID.root,
		InternalUser:  p.ID.internalUser,
		InternalGroup: p.ID.internalGroup,
		LoginUser:     p.ID.loginUser,
		MailUID:       p.ID.mailUID,
		MailGID:       p.ID.mailGID,
	}}
	var b strings.Builder
	if err := confTemplate.Execute(&b, data); err != nil {
		return "", fmt.Errorf("dovecottest: render dovecot.conf: %w", err)
	}
	return b.String(), nil
}

// checkConfPath refuses a path that is relative or that has a character
// dovecot.conf would read as syntax (or, in mail_location, as a %-variable).
func checkConfPath(name, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("dovecottest: %s %q is not an absolute path", name, path)
	}
	if strings.ContainsAny(path, "\n\r\"#{}% \t") {
		return fmt.Errorf("dovecottest: %s %q has a character Dovecot's config would misread", name, path)
	}
	return nil
}
