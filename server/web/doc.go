// Package web serves maildird's http (and optional https) listener: the
// ACME http-01 answers of mode autocert, and the documents mail clients
// fetch to set an account up from nothing but an address and a password:
//
//   - Mozilla autoconfig (Thunderbird, K-9/Thunderbird for Android,
//     Evolution, KMail): GET /mail/config-v1.1.xml and
//     /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=...
//   - Microsoft autodiscover, the "POX" schema (Outlook):
//     POST /autodiscover/autodiscover.xml
//   - Apple configuration profiles (iPhone, iPad, Mac):
//     GET /apple.mobileconfig?email=...
//
// The documents name the hostname and the ports maildird really listens
// on (Endpoints), with the full address as the login. They are built from
// the address alone: no endpoint looks at the users, so nothing here tells
// a stranger which accounts exist. An address outside the local domains,
// or no address at all, is a 400.
//
// With https configured, plain http answers ACME and redirects everything
// else there.
package web
