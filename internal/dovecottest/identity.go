package dovecottest

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// identity is who Dovecot's processes run as.
type identity struct {
	// root is true when the test runs as root. Dovecot then keeps its
	// privilege separation: login processes are chrooted and run as
	// loginUser, and mail is accessed as an unprivileged mail user, because
	// Dovecot refuses mail access as root ("Mail access not allowed for
	// root") and refuses to run login processes as root.
	root bool

	internalUser  string // default_internal_user (auth, anvil, stats)
	internalGroup string // default_internal_group
	loginUser     string // default_login_user (imap-login, pop3-login)
	mailUID       int    // owner of the mail files
	mailGID       int
}

// currentIdentity decides the users for the current process: as root, root
// for Dovecot's internal services, dovenull (or nobody) for the login
// processes and nobody for mail; as a normal user, that user for everything.
func currentIdentity() (identity, error) {
	if os.Geteuid() == 0 {
		return rootIdentity()
	}
	return userIdentity()
}

func rootIdentity() (identity, error) {
	id := identity{root: true, internalUser: "root"}
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		return id, fmt.Errorf("dovecottest: name of group %d: %w", os.Getegid(), err)
	}
	id.internalGroup = grp.Name
	nobody, err := user.Lookup("nobody")
	if err != nil {
		return id, fmt.Errorf("dovecottest: running as root needs the user nobody for mail access: %w", err)
	}
	if id.mailUID, err = strconv.Atoi(nobody.Uid); err != nil {
		return id, fmt.Errorf("dovecottest: uid of nobody %q: %w", nobody.Uid, err)
	}
	if id.mailGID, err = strconv.Atoi(nobody.Gid); err != nil {
		return id, fmt.Errorf("dovecottest: gid of nobody %q: %w", nobody.Gid, err)
	}
	if id.mailUID == 0 {
		return id, fmt.Errorf("dovecottest: user nobody has uid 0")
	}
	// dovenull is the Debian package's login user; nobody is the fallback
	// where the package did not create it.
	id.loginUser = "nobody"
	if _, err := user.Lookup("dovenull"); err == nil {
		id.loginUser = "dovenull"
	}
	return id, nil
}

func userIdentity() (identity, error) {
	u, err := user.Current()
	if err != nil {
		return identity{}, fmt.Errorf("dovecottest: current user: %w", err)
	}
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		return identity{}, fmt.Errorf("dovecottest: name of group %d: %w", os.Getegid(), err)
	}
	return identity{
		internalUser:  u.Username,
		internalGroup: grp.Name,
		loginUser:     u.Username,
		mailUID:       os.Geteuid(),
		mailGID:       os.Getegid(),
	}, nil
}
