package queue

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIM selectors: the DNS names are <selector>._domainkey.<domain>.
const (
	SelectorEd25519 = "maildird-ed25519"
	SelectorRSA     = "maildird-rsa"
)

// signedHeaders is the usual set of RFC 6376 §5.4.1; a field listed but
// absent is signed as absent, so it cannot be added later.
var signedHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "List-Id", "List-Unsubscribe",
}

// DKIM holds an Ed25519 and an RSA-2048 key per local domain. The keys
// live in <data_dir>/dkim/<domain>.ed25519.pem and <domain>.rsa.pem
// (PKCS #8, mode 0600), made on first use and never replaced.
type DKIM struct {
	keys map[string]domainKeys
}

type domainKeys struct {
	ed  ed25519.PrivateKey
	rsa *rsa.PrivateKey
}

// LoadDKIM loads the keys of every domain from dir, making the missing
// ones.
func LoadDKIM(dir string, domains []string) (*DKIM, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	d := &DKIM{keys: map[string]domainKeys{}}
	for _, domain := range domains {
		domain = strings.ToLower(domain)
		if domain == "" || strings.ContainsAny(domain, "/\\") || domain[0] == '.' {
			return nil, fmt.Errorf("dkim: bad domain %q", domain)
		}
		edKey, err := loadOrMake(filepath.Join(dir, domain+".ed25519.pem"), func() (crypto.Signer, error) {
			_, k, err := ed25519.GenerateKey(rand.Reader)
			return k, err
		})
		if err != nil {
			return nil, err
		}
		rsaKey, err := loadOrMake(filepath.Join(dir, domain+".rsa.pem"), func() (crypto.Signer, error) {
			return rsa.GenerateKey(rand.Reader, 2048)
		})
		if err != nil {
			return nil, err
		}
		ed, ok1 := edKey.(ed25519.PrivateKey)
		rk, ok2 := rsaKey.(*rsa.PrivateKey)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("dkim: the key files of %s in %s hold the wrong key types", domain, dir)
		}
		d.keys[domain] = domainKeys{ed: ed, rsa: rk}
	}
	return d, nil
}

// loadOrMake reads a PKCS #8 key, or makes one and writes it: a
// temporary file, fsync, then a hard link to the name, which fails if
// another process got there first (then its key is read).
func loadOrMake(path string, make func() (crypto.Signer, error)) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := writeNewKey(path, make); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("dkim: %s holds no PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dkim: %s: not a signing key", path)
	}
	return s, nil
}

func writeNewKey(path string, make func() (crypto.Signer, error)) error {
	k, err := make()
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".key.tmp*")
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	defer os.Remove(f.Name())
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("dkim: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// Has reports whether domain has keys.
func (d *DKIM) Has(domain string) bool {
	_, ok := d.keys[strings.ToLower(domain)]
	return ok
}

// Sign reads the whole message and returns two DKIM-Signature fields
// (Ed25519 and RSA-SHA256, relaxed/relaxed, RFC 6376 and RFC 8463), CRLF
// terminated, to be put before the message.
func (d *DKIM) Sign(domain string, r io.Reader) (string, error) {
	k, ok := d.keys[strings.ToLower(domain)]
	if !ok {
		return "", fmt.Errorf("dkim: no keys for %s", domain)
	}
	var signers []*dkim.Signer
	var writers []io.Writer
	for _, key := range []struct {
		selector string
		signer   crypto.Signer
	}{{SelectorEd25519, k.ed}, {SelectorRSA, k.rsa}} {
		s, err := dkim.NewSigner(&dkim.SignOptions{
			Domain: strings.ToLower(domain), Selector: key.selector, Signer: key.signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             signedHeaders,
		})
		if err != nil {
			return "", fmt.Errorf("dkim: %w", err)
		}
		defer s.Close()
		signers = append(signers, s)
		writers = append(writers, s)
	}
	if _, err := io.Copy(io.MultiWriter(writers...), r); err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	var out strings.Builder
	for _, s := range signers {
		if err := s.Close(); err != nil {
			return "", fmt.Errorf("dkim: %w", err)
		}
		out.WriteString(s.Signature())
	}
	return out.String(), nil
}

// Record is one DNS TXT record a domain must publish.
type Record struct {
	Name  string // the owner name, without the final dot
	Value string // the TXT value, unsplit
}

// Records are the two DKIM key records of domain (RFC 6376 §3.6.1,
// RFC 8463 §4.2 for Ed25519: the raw 32-byte public key).
func (d *DKIM) Records(domain string) []Record {
	k, ok := d.keys[strings.ToLower(domain)]
	if !ok {
		return nil
	}
	rsaDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		return nil
	}
	b64 := base64.StdEncoding.EncodeToString
	return []Record{
		{Name: SelectorEd25519 + "._domainkey." + domain, Value: "v=DKIM1; k=ed25519; p=" + b64(k.ed.Public().(ed25519.PublicKey))},
		{Name: SelectorRSA + "._domainkey." + domain, Value: "v=DKIM1; k=rsa; p=" + b64(rsaDER)},
	}
}
