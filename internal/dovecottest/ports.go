package dovecottest

import (
	"fmt"
	"net"
)

// freePort asks the kernel for a free port on 127.0.0.1 and releases it for
// Dovecot to bind. Another process may take it in between; Start retries
// with new ports when Dovecot reports the address in use.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dovecottest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns two distinct free ports.
func freePorts() (imap, pop3 int, err error) {
	if imap, err = freePort(); err != nil {
		return 0, 0, err
	}
	for range 10 {
		if pop3, err = freePort(); err != nil {
			return 0, 0, err
		}
		if pop3 != imap {
			return imap, pop3, nil
		}
	}
	return 0, 0, fmt.Errorf("dovecottest: kernel returned port %d ten times", imap)
}
