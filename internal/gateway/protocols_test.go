package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// serverCert writes a server certificate for names (and 127.0.0.1) and its key to a
// temporary directory, and returns the files and a pool trusting them.
func serverCert(t *testing.T, names ...string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	ca := testbackend.NewCA(t, "gateway test CA")
	c := ca.Issue(t, testbackend.CertOptions{DNSNames: names, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	certFile, keyFile = c.WriteFiles(t, t.TempDir(), "server")
	return certFile, keyFile, ca.Pool()
}

// TestClientProtocols: HTTP/1.1 and h2c on a plain listener, HTTPS with HTTP/2 on a
// TLS listener (with HSTS), all reaching the same real backend.
func TestClientProtocols(t *testing.T) {
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "be"})
	certFile, keyFile, pool := serverCert(t, "gw.test")
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
	certFile, keyFile, _ := serverCert(t, "gw.test")
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
