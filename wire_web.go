package main

import (
	"net"
	"strconv"

	"github.com/maildird/maildird/server"
	"github.com/maildird/maildird/server/web"
	mdtls "github.com/maildird/maildird/tls"
)

// planWeb fills in the http and https entries of plan once every other
// listener is planned: the autoconfig documents name the mail listeners
// this build really serves, on their real ports.
func planWeb(d deps, plan []plannedListener) []plannedListener {
	tlsOn := d.tlsSrc != nil
	var endpoints []web.Endpoint
	httpAt, httpsAt := -1, -1
	for i, p := range plan {
		switch p.Name {
		case "http":
			httpAt = i
		case "https":
			httpsAt = i
		default:
			if p.serve == nil {
				continue
			}
			if e, ok := web.EndpointFor(p.Name, p.Addr, tlsOn); ok {
				endpoints = append(endpoints, e)
			}
		}
	}
	if httpAt < 0 && httpsAt < 0 {
		return plan
	}
	opts := web.Options{Hostname: d.cfg.Server.Hostname, Domains: d.cfg.Server.Domains,
		Endpoints: endpoints, Logger: d.log}
	if httpsAt >= 0 && !tlsOn {
		plan[httpsAt].reason = "needs TLS, which is off"
		httpsAt = -1
	}
	if httpsAt >= 0 {
		_, port, _ := net.SplitHostPort(plan[httpsAt].Addr)
		opts.HTTPSPort, _ = strconv.Atoi(port)
	}
	if httpAt >= 0 {
		// Asking for the handler is what lets autocert use http-01.
		if h := d.tlsSrc.HTTPChallenges(); h != nil {
			opts.ACME = h
		}
	}
	w := web.New(opts)
	if httpAt >= 0 {
		p := &plan[httpAt]
		p.serve = &server.Listener{Name: p.Name, Addr: p.Addr, Service: w}
	}
	if httpsAt >= 0 {
		p := &plan[httpsAt]
		p.serve = &server.Listener{Name: p.Name, Addr: p.Addr, Service: w,
			TLS: d.tlsConfig(mdtls.ConfigOptions{SessionTickets: true, NextProtos: []string{"http/1.1"}, ACMEChallenges: true})}
	}
	return plan
}
