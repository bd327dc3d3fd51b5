package server

import (
	"errors"
	"net"
	"time"
)

// Accept hands every connection ln accepts to handle until ln is closed,
// and returns the error that ended it. Temporary accept errors (out of
// file descriptors, say) are waited out with a growing pause instead of
// ending the listener or spinning.
func Accept(ln net.Listener, handle func(net.Conn)) error {
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				time.Sleep(pause)
				continue
			}
			return err
		}
		pause = 0
		handle(c)
	}
}
