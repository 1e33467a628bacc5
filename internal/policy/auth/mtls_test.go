package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

type leafOpts struct {
	cn       string
	dns      []string
	emails   []string
	notAfter time.Time
	usage    x509.ExtKeyUsage
}

func (ca *testCA) leaf(t *testing.T, o leafOpts) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(time.Hour)
	}
	if o.usage == 0 {
		o.usage = x509.ExtKeyUsageClientAuth
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: o.cn},
		DNSNames:       o.dns,
		EmailAddresses: o.emails,
		NotBefore:      time.Now().Add(-2 * time.Hour),
		NotAfter:       o.notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{o.usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mtlsServer is a real TLS server asking for (not verifying) client certificates and
// running the policy on each request, so the policy's own chain verification is tested.
func mtlsServer(t *testing.T, p *Policy) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr := &policy.Request{Method: r.Method, Header: r.Header, RespHeader: w.Header(), TLS: r.TLS, ContentLength: -1}
		if a := p.Apply(pr); a != nil {
			w.WriteHeader(a.Status)
			_, _ = io.WriteString(w, a.Detail)
			return
		}
		_, _ = io.WriteString(w, pr.Header.Get("X-Consumer"))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "gantry test CA")
	other := newTestCA(t, "other CA")
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	consumers := map[string]*config.Consumer{
		"alice":   {Name: "alice"},
		"billing": {Name: "billing", CertNames: []string{"billing.svc.internal"}},
		"carol":   {Name: "carol", CertNames: []string{"carol@example.com"}},
	}
	tests := []struct {
		name     string
		from     string
		cert     *tls.Certificate
		want     int
		consumer string
	}{
		{name: "cn maps to consumer name", from: "cn", cert: ptr(ca.leaf(t, leafOpts{cn: "alice"})), want: 200, consumer: "alice"},
		{name: "san dns via cert_names", from: "san_dns", cert: ptr(ca.leaf(t, leafOpts{cn: "x", dns: []string{"a.test", "billing.svc.internal"}})), want: 200, consumer: "billing"},
		{name: "san email via cert_names", from: "san_email", cert: ptr(ca.leaf(t, leafOpts{cn: "x", emails: []string{"carol@example.com"}})), want: 200, consumer: "carol"},
		{name: "cert from another CA", from: "cn", cert: ptr(other.leaf(t, leafOpts{cn: "alice"})), want: 401},
		{name: "expired cert", from: "cn", cert: ptr(ca.leaf(t, leafOpts{cn: "alice", notAfter: time.Now().Add(-time.Hour)})), want: 401},
		{name: "server-auth-only cert", from: "cn", cert: ptr(ca.leaf(t, leafOpts{cn: "alice", usage: x509.ExtKeyUsageServerAuth})), want: 401},
		{name: "unknown name", from: "cn", cert: ptr(ca.leaf(t, leafOpts{cn: "mallory"})), want: 401},
		{name: "cn is not san", from: "san_dns", cert: ptr(ca.leaf(t, leafOpts{cn: "alice"})), want: 401},
		{name: "no cert", from: "cn", want: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustNew(t, &config.Auth{MTLS: &config.MTLSAuth{CAFile: caFile, ConsumerFrom: tc.from}}, consumers, Options{})
			srv := mtlsServer(t, p)
			client := srv.Client()
			tr := client.Transport.(*http.Transport)
			if tc.cert != nil {
				tr.TLSClientConfig.Certificates = []tls.Certificate{*tc.cert}
			}
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("X-Consumer", "spoofed")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want == 200 && strings.TrimSpace(string(body)) != tc.consumer {
				t.Fatalf("consumer = %q, want %q", body, tc.consumer)
			}
		})
	}
}

func TestMTLSNotOverTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "ca")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	p := mustNew(t, &config.Auth{MTLS: &config.MTLSAuth{CAFile: caFile}}, nil, Options{})
	if a := p.Apply(newRequest()); a == nil || reasonOf(t, a) != ReasonMissing {
		t.Fatalf("Apply(plain request) = %v, want 401 missing", a)
	}
	if _, err := New(&config.Auth{MTLS: &config.MTLSAuth{CAFile: filepath.Join(t.TempDir(), "none.pem")}}, nil, Options{}); err == nil {
		t.Fatal("New(missing ca_file) error = nil, want error")
	}
}

func ptr[T any](v T) *T { return &v }
