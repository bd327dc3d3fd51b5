package smtp

import gosmtp "github.com/emersion/go-smtp"

// Replies this package sends itself (RFC 5321 §4.2.2, RFC 3463 enhanced
// codes). Wording carries no configuration details; those go to the log.
// They are functions because go-smtp's error type is a pointer: a shared
// value could be changed by mistake.
func replyErr(code int, enh gosmtp.EnhancedCode, msg string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// Enhanced status codes used here (RFC 3463, RFC 5248).
var (
	enhOK             = gosmtp.EnhancedCode{2, 0, 0}
	enhBadSyntax      = gosmtp.EnhancedCode{5, 5, 2}
	enhBadSequence    = gosmtp.EnhancedCode{5, 5, 1}
	enhBadArgs        = gosmtp.EnhancedCode{5, 5, 4}
	enhNoSuchUser     = gosmtp.EnhancedCode{5, 1, 1}
	enhBadDestSyntax  = gosmtp.EnhancedCode{5, 1, 3}
	enhRelayDenied    = gosmtp.EnhancedCode{5, 7, 1}
	enhNotOwner       = gosmtp.EnhancedCode{5, 7, 1}
	enhAuthRequired   = gosmtp.EnhancedCode{5, 7, 0}
	enhAuthFailed     = gosmtp.EnhancedCode{5, 7, 8}
	enhEncryptionReq  = gosmtp.EnhancedCode{5, 7, 11}
	enhTempAuth       = gosmtp.EnhancedCode{4, 7, 0}
	enhTooBig         = gosmtp.EnhancedCode{5, 3, 4}
	enhLoop           = gosmtp.EnhancedCode{5, 4, 6}
	enhLocalError     = gosmtp.EnhancedCode{4, 3, 0}
	enhShutdown       = gosmtp.EnhancedCode{4, 3, 2}
	enhTimeout        = gosmtp.EnhancedCode{4, 4, 2}
	enhTooManyErrors  = gosmtp.EnhancedCode{4, 7, 0}
	enhMediaError     = gosmtp.EnhancedCode{5, 6, 0}
	enhMissingHeader  = gosmtp.EnhancedCode{5, 6, 0}
	enhNotImplemented = gosmtp.EnhancedCode{5, 5, 1}
)
