// Package tls supplies the certificates every maildird listener uses.
//
// A Source turns the [tls] section of the configuration into a
// *crypto/tls.Config: a self-signed certificate made once and kept in the
// data dir (the built-in local default), a PEM certificate and key from
// files that are reloaded when they change on disk (certbot renewals), or
// certificates obtained and renewed by themselves from an ACME CA (Let's
// Encrypt) over http-01 on the http port or tls-alpn-01 on the https port,
// cached in <data_dir>/acme.
//
// Every mode serves the hostname's certificate to a client that sends no
// server name (SNI): most SMTP senders and clients that connect by IP.
//
// The package shares its name with crypto/tls; the rest of the repository
// imports it as mdtls.
package tls
