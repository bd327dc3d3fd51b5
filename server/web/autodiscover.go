package web

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
)

// Microsoft's "plain old XML" autodiscover, [MS-OXDSCLI]: Outlook POSTs
// an Autodiscover request naming the address to
// https://autodiscover.<domain>/autodiscover/autodiscover.xml (or to the
// domain itself) and reads the IMAP/POP3/SMTP settings from the response.

const (
	nsResponse        = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	nsOutlookResponse = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

type autodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

type autodiscoverResponse struct {
	XMLName  xml.Name            `xml:"Autodiscover"`
	NS       string              `xml:"xmlns,attr"`
	Response outlookResponseBody `xml:"Response"`
}

type outlookResponseBody struct {
	NS      string         `xml:"xmlns,attr"`
	Account outlookAccount `xml:"Account"`
}

type outlookAccount struct {
	AccountType string            `xml:"AccountType"`
	Action      string            `xml:"Action"`
	Protocols   []outlookProtocol `xml:"Protocol"`
}

type outlookProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	LoginName      string `xml:"LoginName"`
	DomainRequired string `xml:"DomainRequired"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption"` // overrides SSL: SSL (implicit), TLS (STARTTLS) or None
	AuthRequired   string `xml:"AuthRequired"`
}

func (s *Server) autodiscover(w http.ResponseWriter, r *http.Request) {
	var req autodiscoverRequest
	dec := xml.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		s.badAddress(w, r, "")
		return
	}
	raw := req.Request.EMailAddress
	addr, ok := s.address(raw)
	if !ok {
		s.badAddress(w, r, raw)
		return
	}
	body, err := s.autodiscoverXML(addr)
	if err != nil {
		s.log.Error("web: autodiscover", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.log.Debug("web: autodiscover served", "address", addr, "remote", r.RemoteAddr)
	writeDoc(w, r, "application/xml; charset=utf-8", body)
}

func (s *Server) autodiscoverXML(addr string) ([]byte, error) {
	acct := outlookAccount{AccountType: "email", Action: "settings"}
	// One entry per protocol, the best port of each: Outlook takes the
	// first of a type.
	for _, proto := range []Protocol{IMAP, POP3, SMTP} {
		e, ok := best(s.opts.Endpoints, proto)
		if !ok {
			continue
		}
		p := outlookProtocol{Type: strings.ToUpper(string(proto)), Server: s.opts.Hostname, Port: e.Port,
			LoginName: addr, DomainRequired: "off", SPA: "off", SSL: "on", AuthRequired: "on"}
		switch e.Security {
		case ImplicitTLS:
			p.Encryption = "SSL"
		case STARTTLS:
			p.Encryption = "TLS"
		default:
			p.SSL, p.Encryption = "off", "None"
		}
		acct.Protocols = append(acct.Protocols, p)
	}
	doc := autodiscoverResponse{NS: nsResponse, Response: outlookResponseBody{NS: nsOutlookResponse, Account: acct}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
