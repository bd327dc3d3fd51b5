//go:build !linux

package dovecottest

import "syscall"

// procAttr has nothing to add where the parent-death signal does not exist.
func procAttr() *syscall.SysProcAttr { return nil }
