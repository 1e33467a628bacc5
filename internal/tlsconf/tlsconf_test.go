package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// serve runs a real TLS listener on loopback that completes handshakes.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testbackend.ServeConns(t, ln, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_ = c.(*tls.Conn).Handshake()
		var b [1]byte
		_, _ = c.Read(b[:]) // hold the connection until the client closes
	})
}

func dial(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

type fixture struct {
	ca   *testbackend.CA
	dir  string
	cfg  *config.TLS
	conf *Config
	addr string
}

func newFixture(t *testing.T, minVersion string, extra *config.TLSOptions) *fixture {
	t.Helper()
	f := &fixture{ca: testbackend.NewCA(t, "test CA"), dir: t.TempDir()}
	// The serial is an identity marker: it tells which certificate a handshake got.
	pair := func(name string, serial int64, names ...string) config.Certificate {
		cf, kf := f.ca.Issue(t, testbackend.CertOptions{DNSNames: names, Serial: serial}).WriteFiles(t, f.dir, name)
		return config.Certificate{CertFile: cf, KeyFile: kf}
	}
	f.cfg = &config.TLS{MinVersion: minVersion, Certificates: []config.Certificate{
		pair("default", 1, "default.test"), pair("a", 2, "a.test", "www.a.test"), pair("b", 3, "*.b.test"),
	}}
	var err error
	if f.conf, err = New(f.cfg, Options{Extra: extra}); err != nil {
		t.Fatalf("New() error = %v", err)
	}
	f.addr = serve(t, f.conf.TLSConfig())
	return f
}

func (f *fixture) client(sni string) *tls.Config {
	return &tls.Config{ServerName: sni, RootCAs: f.ca.Pool(), NextProtos: []string{"h2", "http/1.1"}}
}

func TestSNI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", nil)
	tests := []struct {
		name       string
		sni        string
		wantSerial int64
	}{
		{name: "exact", sni: "a.test", wantSerial: 2},
		{name: "exact second name", sni: "www.a.test", wantSerial: 2},
		{name: "exact is case-insensitive", sni: "A.TEST", wantSerial: 2},
		{name: "wildcard", sni: "x.b.test", wantSerial: 3},
		{name: "wildcard covers one label only", sni: "y.x.b.test", wantSerial: 1},
		{name: "wildcard does not cover the parent", sni: "b.test", wantSerial: 1},
		{name: "unknown name gets default", sni: "unknown.test", wantSerial: 1},
		{name: "no SNI gets default", sni: "", wantSerial: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := f.client(tc.sni)
			if tc.sni == "" || tc.wantSerial == 1 {
				// The default certificate does not name the host: check the chain by hand.
				cfg.InsecureSkipVerify = true
			}
			st, err := dial(f.addr, cfg)
			if err != nil {
				t.Fatalf("handshake with SNI %q: %v", tc.sni, err)
			}
			if got := st.PeerCertificates[0].SerialNumber.Int64(); got != tc.wantSerial {
				t.Fatalf("SNI %q served serial %d, want %d", tc.sni, got, tc.wantSerial)
			}
			if _, err := st.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: f.ca.Pool()}); err != nil {
				t.Fatalf("served certificate does not chain to the CA: %v", err)
			}
			if st.NegotiatedProtocol != "h2" {
				t.Fatalf("ALPN = %q, want h2", st.NegotiatedProtocol)
			}
		})
	}
}

func TestVersionsAndSuites(t *testing.T) {
	t.Parallel()
	f12 := newFixture(t, "1.2", nil)
	f13 := newFixture(t, "1.3", nil)
	tests := []struct {
		name   string
		f      *fixture
		max    uint16
		suites []uint16
		ok     bool
	}{
		{name: "1.2 minimum accepts 1.2", f: f12, max: tls.VersionTLS12, ok: true},
		{name: "1.2 minimum refuses 1.1", f: f12, max: tls.VersionTLS11, ok: false},
		{name: "1.2 refuses CBC-only client", f: f12, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, ok: false},
		{name: "1.2 refuses static RSA key exchange", f: f12, max: tls.VersionTLS12, suites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, ok: false},
		{name: "1.3 minimum refuses 1.2", f: f13, max: tls.VersionTLS12, ok: false},
		{name: "1.3 minimum accepts 1.3", f: f13, max: tls.VersionTLS13, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.f.client("a.test")
			cfg.MaxVersion = tc.max
			cfg.MinVersion = tls.VersionTLS10
			cfg.CipherSuites = tc.suites
			_, err := dial(tc.f.addr, cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", nil)
	serial := func() int64 {
		t.Helper()
		st, err := dial(f.addr, f.client("a.test"))
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return st.PeerCertificates[0].SerialNumber.Int64()
	}
	if f.conf.Changed() {
		t.Fatal("Changed() = true right after New, want false")
	}
	// Renew a.test's certificate in place.
	f.ca.Issue(t, testbackend.CertOptions{DNSNames: []string{"a.test"}, Serial: 20}).WriteFiles(t, f.dir, "a")
	bump(t, f.cfg.Certificates[1].CertFile)
	if !f.conf.Changed() {
		t.Fatal("Changed() = false after rewriting the certificate, want true")
	}
	if reloaded, err := f.conf.ReloadIfChanged(); !reloaded || err != nil {
		t.Fatalf("ReloadIfChanged() = %v, %v, want true, nil", reloaded, err)
	}
	if got := serial(); got != 20 {
		t.Fatalf("after reload a.test serial = %d, want 20", got)
	}
	if f.conf.Changed() {
		t.Fatal("Changed() = true after a successful reload, want false")
	}

	// A broken certificate keeps the old one.
	if err := os.WriteFile(f.cfg.Certificates[1].CertFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	bump(t, f.cfg.Certificates[1].CertFile)
	reloaded, err := f.conf.ReloadIfChanged()
	if !reloaded || err == nil {
		t.Fatalf("ReloadIfChanged(broken) = %v, %v, want true and an error", reloaded, err)
	}
	var be *config.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("error %T, want *config.BuildError", err)
	}
	if got := serial(); got != 20 {
		t.Fatalf("after failed reload a.test serial = %d, want 20 (old kept)", got)
	}
	if !f.conf.Changed() {
		t.Fatal("Changed() = false after a failed reload, want true (retry next tick)")
	}
}

// bump moves a file's mtime forward so the change is visible even on coarse clocks.
func bump(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := fi.ModTime().Add(2 * time.Second)
	if err := os.Chtimes(path, ts, ts); err != nil {
		t.Fatal(err)
	}
}

func TestClientCA(t *testing.T) {
	t.Parallel()
	clientCA := testbackend.NewCA(t, "test CA")
	other := testbackend.NewCA(t, "test CA") // same name, another key
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	if err := os.WriteFile(caFile, clientCA.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "", &config.TLSOptions{ClientCAFile: caFile})
	pair := func(c *testbackend.CA) *tls.Certificate {
		return &c.Issue(t, testbackend.CertOptions{DNSNames: []string{"alice"}, Serial: 7, Client: true}).TLS
	}
	tests := []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{name: "no client cert is allowed", ok: true},
		{name: "cert from the client CA", cert: pair(clientCA), ok: true},
		{name: "cert from another CA refused", cert: pair(other), ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := f.client("a.test")
			if tc.cert != nil {
				cfg.Certificates = []tls.Certificate{*tc.cert}
			}
			// In TLS 1.3 the server's verdict on the client certificate arrives after
			// the client's handshake completes: read to see it.
			d := &net.Dialer{Timeout: 5 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", f.addr, cfg)
			if err == nil {
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				var b [1]byte
				_, err = c.Read(b[:])
				c.Close()
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					err = nil // still open: the server accepted us
				}
			}
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  *config.TLS
	}{
		{name: "no certificates", cfg: &config.TLS{}},
		{name: "missing file", cfg: &config.TLS{Certificates: []config.Certificate{{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}}}},
		{name: "bad min version", cfg: &config.TLS{MinVersion: "1.1", Certificates: []config.Certificate{{CertFile: "x", KeyFile: "y"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tc.cfg, Options{}); err == nil {
				t.Fatal("New() error = nil, want error")
			}
		})
	}
}

func TestHSTSAndRedirect(t *testing.T) {
	t.Parallel()
	if got, want := HSTSValue(&config.HSTS{IncludeSubdomains: true}), "max-age=31536000; includeSubDomains"; got != want {
		t.Errorf("HSTSValue() = %q, want %q", got, want)
	}
	if got := HSTSValue(nil); got != "" {
		t.Errorf("HSTSValue(nil) = %q, want empty", got)
	}
	srv := httptest.NewServer(RedirectHandler("8443"))
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, host, path string
		want             int
		location         string
	}{
		{name: "redirect keeps path and query", host: "shop.test", path: "/a/b?x=1", want: 308, location: "https://shop.test:8443/a/b?x=1"},
		{name: "port of the plain listener dropped", host: "shop.test:8080", path: "/", want: 308, location: "https://shop.test:8443/"},
		{name: "ipv6 host", host: "[::1]:8080", path: "/", want: 308, location: "https://[::1]:8443/"},
		{name: "bad host", host: "evil.test/x", path: "/", want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("POST", srv.URL+tc.path, nil)
			req.Host = tc.host
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Fatalf("Location = %q, want %q", got, tc.location)
			}
		})
	}
}
