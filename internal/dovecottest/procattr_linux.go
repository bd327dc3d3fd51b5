package dovecottest

import "syscall"

// procAttr makes the kernel SIGTERM Dovecot's master when the test binary
// dies without running its cleanups (a panic, a kill), so no Dovecot is left
// listening after the test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
