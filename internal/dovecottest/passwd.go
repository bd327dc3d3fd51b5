package dovecottest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// checkAddress rejects user names that would break the passwd-file (':' and
// line breaks), or that would not map to <domain>/<local> under the mail
// root (mail_location uses %d and %n).
func checkAddress(addr string) error {
	local, domain, ok := strings.Cut(addr, "@")
	switch {
	case !ok || local == "" || domain == "":
		return fmt.Errorf("dovecottest: user %q: want local@domain", addr)
	case strings.Contains(domain, "@"):
		return fmt.Errorf("dovecottest: user %q: more than one '@'", addr)
	case strings.ContainsAny(addr, ":/\\"):
		return fmt.Errorf("dovecottest: user %q: ':', '/' and '\\' are not allowed", addr)
	case local == "." || local == ".." || domain == "." || domain == "..":
		return fmt.Errorf("dovecottest: user %q: '.' and '..' are not names", addr)
	}
	for _, r := range addr {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("dovecottest: user %q: space or control character", addr)
		}
	}
	return nil
}

// ssha256 hashes a password in Dovecot's {SSHA256} scheme:
// base64(sha256(password || salt) || salt). A hash instead of {PLAIN} keeps
// passwords with ':' or line breaks from breaking the passwd-file.
func ssha256(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("dovecottest: salt: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA256}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...)), nil
}

// passwdFile renders the passwd-file used as both passdb and userdb (a
// user in hashes gets that ready hash, e.g. maildird's {BLF-CRYPT} line):
// user:password:uid:gid:gecos:home:shell:extra. Names are lowercased because
// auth_username_format = %Lu lowercases the login name before the lookup.
// passwd-file rejects a uid or gid of 0, so those fields are left empty then
// and mail_uid/mail_gid in dovecot.conf supply the value.
func passwdFile(users, hashes map[string]string, mailUID, mailGID int) ([]byte, error) {
	names := make([]string, 0, len(users))
	seen := make(map[string]string, len(users))
	for addr := range users {
		if err := checkAddress(addr); err != nil {
			return nil, err
		}
		low := strings.ToLower(addr)
		if other, dup := seen[low]; dup {
			return nil, fmt.Errorf("dovecottest: users %q and %q differ only in case", other, addr)
		}
		seen[low] = addr
		names = append(names, addr)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, addr := range names {
		hash, ok := hashes[addr]
		if !ok {
			var err error
			if hash, err = ssha256(users[addr]); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(&b, "%s:%s:%s:%s::::\n", strings.ToLower(addr), hash, idField(mailUID), idField(mailGID))
	}
	return []byte(b.String()), nil
}

func idField(id int) string {
	if id == 0 {
		return ""
	}
	return strconv.Itoa(id)
}
