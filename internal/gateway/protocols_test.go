package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// selfSigned writes a certificate for names (and 127.0.0.1) and its key to dir.
func selfSigned(t *testing.T, dir string, names ...string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestClientProtocols: HTTP/1.1 and h2c on a plain listener, HTTPS with HTTP/2 on a
// TLS listener (with HSTS), all reaching the same real backend.
func TestClientProtocols(t *testing.T) {
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "be"})
	certFile, keyFile, pool := selfSigned(t, t.TempDir(), "gw.test")
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  plain: { address: "127.0.0.1:0" }
  secure:
    address: "127.0.0.1:0"
    tls:
      certificates: [{ cert_file: %q, key_file: %q }]
      hsts: { max_age: 1h }
upstreams:
  app: { targets: [%q] }
routes:
  - { name: all, upstream: app }
`, certFile, keyFile, be.URL)))

	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	tests := []struct {
		name      string
		client    *http.Client
		url       string
		wantProto string
		wantHSTS  bool
	}{
		{name: "http/1.1", client: &http.Client{}, url: "http://" + g.Addr("plain").String() + "/a", wantProto: "HTTP/1.1"},
		{name: "h2c prior knowledge", client: &http.Client{Transport: &http.Transport{Protocols: &h2c}}, url: "http://" + g.Addr("plain").String() + "/a", wantProto: "HTTP/2.0"},
		{name: "https h2", client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "gw.test"}, ForceAttemptHTTP2: true}},
			url: "https://" + g.Addr("secure").String() + "/a", wantProto: "HTTP/2.0", wantHSTS: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != tc.wantProto {
				t.Fatalf("GET = %d over %s, want 200 over %s (%s)", resp.StatusCode, resp.Proto, tc.wantProto, body)
			}
			if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts != "") != tc.wantHSTS {
				t.Fatalf("Strict-Transport-Security = %q, want present=%v", hsts, tc.wantHSTS)
			}
		})
	}
}

// TestRedirectHTTP: tls.redirect_http answers plain HTTP with a 308 to the TLS listener,
// keeping path and query.
func TestRedirectHTTP(t *testing.T) {
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "be"})
	certFile, keyFile, _ := selfSigned(t, t.TempDir(), "gw.test")
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := probe.Addr().String()
	probe.Close()
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  secure:
    address: "127.0.0.1:0"
    tls:
      certificates: [{ cert_file: %q, key_file: %q }]
      redirect_http: %q
upstreams:
  app: { targets: [%q] }
routes:
  - { name: all, upstream: app }
`, certFile, keyFile, plain, be.URL)))
	_, tlsPort, _ := net.SplitHostPort(g.Addr("secure").String())
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get("http://" + plain + "/a/b?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://127.0.0.1:" + tlsPort + "/a/b?x=1"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("GET = %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
