package testbackend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throwaway certificate authority for tests. Keys are ECDSA P-256 (fast to
// generate). A CA is immutable after NewCA and safe for concurrent use.
type CA struct {
	// CertPEM is the CA certificate, PEM-encoded, for ca_file style settings.
	CertPEM []byte
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

// NewCA returns a new root CA with common name name, valid from a day ago to a day
// from now. It fails the test on error.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{CertPEM: pemBlock("CERTIFICATE", der), cert: cert, key: key}
}

// Pool returns a new pool holding only the CA certificate; the caller may add to it.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// CertOptions shapes a leaf certificate issued by CA.Issue. The zero value is a server
// certificate with no names, valid from an hour ago to an hour from now.
type CertOptions struct {
	// CommonName is the subject CN; empty means DNSNames[0] (or no CN).
	CommonName string
	// DNSNames, IPs and Emails are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	Emails   []string
	// Client issues a client-authentication certificate instead of a server one.
	Client bool
	// Serial is the serial number; zero means a random one.
	Serial int64
	// NotBefore defaults to an hour before the earlier of now and NotAfter, NotAfter
	// to an hour after the later of now and NotBefore: a past NotAfter alone makes an
	// expired certificate, a future NotBefore alone a not-yet-valid one.
	NotBefore, NotAfter time.Time
}

// Cert is a leaf certificate and its key, issued by CA.Issue.
type Cert struct {
	// TLS is the certificate (leaf only, no chain) with its private key and Leaf set,
	// ready for tls.Config.Certificates.
	TLS     tls.Certificate
	certPEM []byte
	keyPEM  []byte
}

// Issue returns a new leaf certificate signed by the CA, shaped by o. It fails the
// test on error.
func (ca *CA) Issue(t testing.TB, o CertOptions) *Cert {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	if o.CommonName == "" && len(o.DNSNames) > 0 {
		o.CommonName = o.DNSNames[0]
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = later(now, o.NotBefore).Add(time.Hour)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = earlier(now, o.NotAfter).Add(-time.Hour)
	}
	serial := big.NewInt(o.Serial)
	if o.Serial == 0 {
		serial = randomSerial(t)
	}
	usage := x509.ExtKeyUsageServerAuth
	if o.Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: o.CommonName},
		DNSNames:       o.DNSNames,
		IPAddresses:    o.IPs,
		EmailAddresses: o.Emails,
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		certPEM: pemBlock("CERTIFICATE", der),
		keyPEM:  pemBlock("PRIVATE KEY", kder),
	}
}

// WriteFiles writes the certificate and its PKCS #8 key as PEM to dir/name.crt and
// dir/name.key, replacing existing files, and returns their paths. It fails the test
// on error.
func (c *Cert) WriteFiles(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, c.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func randomSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1)) // never zero: RFC 5280 section 4.1.2.2 wants a positive serial
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
