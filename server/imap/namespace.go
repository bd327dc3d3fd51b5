package imap

import goimap "github.com/emersion/go-imap/v2"

// delim is the hierarchy separator of folder names (DESIGN.md §3).
const delim = '/'

// Namespace serves NAMESPACE (RFC 2342): one personal namespace.
func (s *session) Namespace() (*goimap.NamespaceData, error) {
	s.touch()
	return &goimap.NamespaceData{
		Personal: []goimap.NamespaceDescriptor{{Prefix: "", Delim: delim}},
	}, nil
}
