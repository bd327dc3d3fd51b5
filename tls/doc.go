// Package tls supplies the certificates every maildird listener uses.
//
// A Source turns the [tls] section of the configuration into a
// *crypto/tls.Config: a self-signed certificate made once and kept in the
// data dir (the built-in local default), or a PEM certificate and key from
// files that are reloaded when they change on disk (certbot renewals).
// ACME (autocert) is added by the certificate work.
//
// The package shares its name with crypto/tls; the rest of the repository
// imports it as mdtls.
package tls
