package web

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// Mozilla's autoconfig format, version 1.1:
// https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat
// Thunderbird asks http(s)://autoconfig.<domain>/mail/config-v1.1.xml and
// <domain>/.well-known/autoconfig/mail/config-v1.1.xml, both with
// ?emailaddress=<the address>.

type clientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider emailProvider `xml:"emailProvider"`
}

type emailProvider struct {
	ID               string         `xml:"id,attr"`
	Domain           string         `xml:"domain"`
	DisplayName      string         `xml:"displayName"`
	DisplayShortName string         `xml:"displayShortName"`
	Incoming         []serverConfig `xml:"incomingServer"`
	Outgoing         []serverConfig `xml:"outgoingServer"`
}

type serverConfig struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
}

// socketType is autoconfig's name for a Security.
func socketType(s Security) string {
	switch s {
	case ImplicitTLS:
		return "SSL"
	case STARTTLS:
		return "STARTTLS"
	}
	return "plain"
}

func (s *Server) autoconfig(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("emailaddress")
	addr, ok := s.address(raw)
	if !ok {
		s.badAddress(w, r, raw)
		return
	}
	body, err := s.autoconfigXML(addr)
	if err != nil {
		s.log.Error("web: autoconfig", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.log.Debug("web: autoconfig served", "address", addr, "remote", r.RemoteAddr)
	writeDoc(w, r, "application/xml; charset=utf-8", body)
}

func (s *Server) autoconfigXML(addr string) ([]byte, error) {
	_, domain, _ := strings.Cut(addr, "@")
	p := emailProvider{ID: domain, Domain: domain, DisplayName: "Mail for " + domain, DisplayShortName: domain}
	server := func(e Endpoint) serverConfig {
		return serverConfig{Type: string(e.Protocol), Hostname: s.opts.Hostname, Port: e.Port,
			SocketType: socketType(e.Security), Authentication: "password-cleartext", Username: addr}
	}
	// IMAP first: clients take the first incoming server they can reach.
	for _, proto := range []Protocol{IMAP, POP3} {
		for _, e := range endpointsOf(s.opts.Endpoints, proto) {
			p.Incoming = append(p.Incoming, server(e))
		}
	}
	for _, e := range endpointsOf(s.opts.Endpoints, SMTP) {
		p.Outgoing = append(p.Outgoing, server(e))
	}
	out, err := xml.MarshalIndent(clientConfig{Version: "1.1", Provider: p}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
