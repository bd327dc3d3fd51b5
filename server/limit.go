package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

var (
	errAddrInUse = syscall.EADDRINUSE
	errAccess    = syscall.EACCES
)

// connLimiter counts open connections per client address. IPv6 clients
// are counted per /64, since one home connection gets a whole /64.
type connLimiter struct {
	max   int
	mu    sync.Mutex
	count map[netip.Prefix]int
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, count: map[netip.Prefix]int{}}
}

func clientKey(a net.Addr) (netip.Prefix, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p, true
}

// acquire reports whether one more connection from key is allowed, and
// counts it if so.
func (l *connLimiter) acquire(key netip.Prefix) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[key] >= l.max {
		return false
	}
	l.count[key]++
	return true
}

func (l *connLimiter) release(key netip.Prefix) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[key]--; l.count[key] <= 0 {
		delete(l.count, key)
	}
}

// limitedListener drops connections over the per-address limit at once,
// before any protocol work, so one client cannot use up a router's memory.
type limitedListener struct {
	net.Listener
	limiter *connLimiter
	log     *slog.Logger
	name    string
	lastLog time.Time
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := clientKey(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		if l.limiter.acquire(key) {
			return &limitedConn{Conn: c, release: func() { l.limiter.release(key) }}, nil
		}
		if now := time.Now(); now.Sub(l.lastLog) > time.Minute {
			l.lastLog = now
			l.log.Warn("too many connections from one address; closing new ones", "service", l.name, "remote", key)
		}
		c.Close()
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
