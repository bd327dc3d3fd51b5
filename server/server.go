// Package server owns maildird's listening sockets: it binds every
// configured address before any protocol starts (so a taken port is one
// clear error at start-up, not a half-running server), limits connections
// per client address, adds implicit TLS where the port calls for it, and
// shuts every protocol down together.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// Service is one protocol server. Serve returns when the listener is
// closed; Shutdown stops accepting and waits (until ctx ends) for the
// connections in flight.
type Service interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// Listener describes one socket to open.
type Listener struct {
	Name    string      // the [listen] key, for logs
	Addr    string      // host:port
	Service Service     // what serves it
	TLS     *tls.Config // non-nil: implicit TLS (465, 993, 995)
}

// Options configures a Group.
type Options struct {
	// MaxConnsPerIP bounds simultaneous connections from one client
	// address across all listeners; 0 means no limit.
	MaxConnsPerIP int
	Logger        *slog.Logger
}

// Group is the set of listeners of one running server.
type Group struct {
	opts    Options
	log     *slog.Logger
	limiter *connLimiter

	mu        sync.Mutex
	listeners []net.Listener
	services  []Service
	wg        sync.WaitGroup
}

// New returns an empty Group.
func New(opts Options) *Group {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Group{opts: opts, log: log, limiter: newConnLimiter(opts.MaxConnsPerIP)}
}

// Start binds every listener, then starts serving them all. When one
// address cannot be bound, nothing is served and the error names it.
func (g *Group) Start(ls []Listener) error {
	var bound []net.Listener
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, b := range bound {
				b.Close()
			}
			return fmt.Errorf("server: %s on %s: %w", l.Name, l.Addr, explainListenError(err))
		}
		bound = append(bound, ln)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, l := range ls {
		var ln net.Listener = &limitedListener{Listener: bound[i], limiter: g.limiter, log: g.log, name: l.Name}
		if l.TLS != nil {
			ln = tls.NewListener(ln, l.TLS)
		}
		g.listeners = append(g.listeners, ln)
		g.services = append(g.services, l.Service)
		g.log.Info("listening", "service", l.Name, "addr", bound[i].Addr().String(), "implicit_tls", l.TLS != nil)
		g.wg.Add(1)
		go func(name string, svc Service, ln net.Listener) {
			defer g.wg.Done()
			if err := svc.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				g.log.Error("listener stopped", "service", name, "err", err)
			}
		}(l.Name, l.Service, ln)
	}
	return nil
}

// Addrs returns the bound addresses in Start's order (useful with port 0).
func (g *Group) Addrs() []net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []net.Addr
	for _, ln := range g.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// Shutdown stops every service and waits for them until ctx ends.
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	services := g.services
	g.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	g.mu.Lock()
	for _, ln := range g.listeners {
		ln.Close()
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("server: shutdown: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// explainListenError adds what to do to the two errors people meet.
func explainListenError(err error) error {
	switch {
	case errors.Is(err, errAddrInUse):
		return fmt.Errorf("%w (another program listens there; stop it or change the port in [listen])", err)
	case errors.Is(err, errAccess):
		return fmt.Errorf("%w (ports below 1024 need root or CAP_NET_BIND_SERVICE; see contrib/maildird.service)", err)
	}
	return err
}
