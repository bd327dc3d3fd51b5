package auth

import "errors"

// Sentinel errors; callers test them with errors.Is because the returned
// errors are wrapped with context.
var (
	ErrNoSuchUser     = errors.New("no such user")
	ErrUserExists     = errors.New("user already exists")
	ErrAliasExists    = errors.New("alias already exists")
	ErrNoSuchAlias    = errors.New("no such alias")
	ErrBadAddress     = errors.New("bad address")
	ErrEmptyPassword  = errors.New("empty password")
	ErrNotLocalDomain = errors.New("domain is not a local domain")
	ErrBadCredentials = errors.New("bad credentials")
	ErrThrottled      = errors.New("too many failed logins, try again later")
)
