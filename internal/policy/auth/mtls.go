package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

// mtlsCacheSize bounds the verified-certificate cache of one route.
const mtlsCacheSize = 1024

type mtlsAuth struct {
	roots  *x509.CertPool
	from   string
	byName map[string]*policy.Consumer // certificate identity → consumer
	now    func() time.Time
	// verified caches chain verification per leaf (by SHA-256 of its DER) until the
	// leaf expires, so a keep-alive client does not pay x509 verification per request.
	verified *boundedCache[digest, mtlsEntry]
}

type mtlsEntry struct {
	consumer *policy.Consumer
	notAfter time.Time
}

func newMTLS(cfg *config.MTLSAuth, idx *consumerIndex, now func() time.Time) (*mtlsAuth, error) {
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, config.FieldError(cfg.At, "ca_file", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, config.FieldError(cfg.At, "ca_file", fmt.Errorf("%w: no PEM certificates in %s", ErrBadKey, cfg.CAFile))
	}
	m := &mtlsAuth{roots: pool, from: cfg.ConsumerFrom, byName: map[string]*policy.Consumer{}, now: now,
		verified: newDigestCache[mtlsEntry](mtlsCacheSize, 0)}
	if m.from == "" {
		m.from = config.ConsumerFromCN
	}
	for name, c := range idx.cfg {
		names := c.CertNames
		if len(names) == 0 {
			names = []string{name}
		}
		for _, n := range names {
			m.byName[n] = idx.byName[name]
		}
	}
	return m, nil
}

// authenticate verifies the peer's chain against the route's CAs (independently of
// what the listener verified: routes may trust different CAs) and maps the configured
// certificate name to a consumer.
func (m *mtlsAuth) authenticate(r *policy.Request) (*policy.Consumer, Reason) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, ReasonMissing
	}
	leaf := r.TLS.PeerCertificates[0]
	now := m.now()
	key := sha256.Sum256(leaf.Raw)
	if e, ok := m.verified.get(key); ok && now.Before(e.notAfter) {
		return e.consumer, ReasonNone
	}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         m.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, ReasonCertificate
	}
	var names []string
	switch m.from {
	case config.ConsumerFromSANDNS:
		names = leaf.DNSNames
	case config.ConsumerFromSANEmail:
		names = leaf.EmailAddresses
	default:
		names = []string{leaf.Subject.CommonName}
	}
	for _, n := range names {
		if c, ok := m.byName[n]; ok && n != "" {
			m.verified.put(key, mtlsEntry{consumer: c, notAfter: leaf.NotAfter}, 0)
			return c, ReasonNone
		}
	}
	return nil, ReasonUnknownConsumer
}
