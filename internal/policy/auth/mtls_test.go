package auth

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/testbackend"
)

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
	ca := testbackend.NewCA(t, "gantry test CA")
	other := testbackend.NewCA(t, "other CA")
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	leaf := func(ca *testbackend.CA, o testbackend.CertOptions) *tls.Certificate { return &ca.Issue(t, o).TLS }
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
		{name: "cn maps to consumer name", from: "cn", cert: leaf(ca, testbackend.CertOptions{CommonName: "alice", Client: true}), want: 200, consumer: "alice"},
		{name: "san dns via cert_names", from: "san_dns", cert: leaf(ca, testbackend.CertOptions{CommonName: "x", DNSNames: []string{"a.test", "billing.svc.internal"}, Client: true}), want: 200, consumer: "billing"},
		{name: "san email via cert_names", from: "san_email", cert: leaf(ca, testbackend.CertOptions{CommonName: "x", Emails: []string{"carol@example.com"}, Client: true}), want: 200, consumer: "carol"},
		{name: "cert from another CA", from: "cn", cert: leaf(other, testbackend.CertOptions{CommonName: "alice", Client: true}), want: 401},
		{name: "expired cert", from: "cn", cert: leaf(ca, testbackend.CertOptions{CommonName: "alice", Client: true, NotAfter: time.Now().Add(-time.Hour)}), want: 401},
		{name: "server-auth-only cert", from: "cn", cert: leaf(ca, testbackend.CertOptions{CommonName: "alice"}), want: 401},
		{name: "unknown name", from: "cn", cert: leaf(ca, testbackend.CertOptions{CommonName: "mallory", Client: true}), want: 401},
		{name: "cn is not san", from: "san_dns", cert: leaf(ca, testbackend.CertOptions{CommonName: "alice", Client: true}), want: 401},
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
	ca := testbackend.NewCA(t, "ca")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
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
