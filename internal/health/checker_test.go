package health

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

// TestHTTPFlip: a real backend turns to 500 and back; the verdict follows only after
// the configured number of consecutive results.
func TestHTTPFlip(t *testing.T) {
	t.Parallel()
	var status atomic.Int64
	var ok, bad atomic.Int64
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := int(status.Load())
		if s == 200 {
			ok.Add(1)
		} else {
			bad.Add(1)
		}
		w.WriteHeader(s)
	}))
	defer srv.Close()
	tg := mustTarget(t, srv.URL)
	set := startChecker(t, fastCheck(nil), Options{}, tg)

	waitFor(t, "5 passing checks", 10*time.Second, func() bool { return ok.Load() >= 5 })
	if !tg.State.Healthy() || !inPool(set, tg) {
		t.Fatalf("Healthy() = false while passing, want true")
	}

	status.Store(500)
	waitFor(t, "target marked down", 10*time.Second, func() bool { return !tg.State.Healthy() })
	if n := bad.Load(); n < 3 {
		t.Errorf("marked down after %d failing checks, want >= 3 (unhealthy_threshold)", n)
	}
	if inPool(set, tg) {
		t.Errorf("pool still holds the down target")
	}
	if err := tg.State.LastCheck().Err; !strings.Contains(err, "status 500") {
		t.Errorf("LastCheck().Err = %q, want it to mention status 500", err)
	}

	okBefore := ok.Load()
	status.Store(200)
	waitFor(t, "target back up", 10*time.Second, func() bool { return tg.State.Healthy() })
	if n := ok.Load() - okBefore; n < 2 {
		t.Errorf("back up after %d passing checks, want >= 2 (healthy_threshold)", n)
	}
	if !inPool(set, tg) {
		t.Errorf("pool lacks the recovered target")
	}
}

func TestHTTPCheck(t *testing.T) {
	t.Parallel()
	type seen struct{ host, path, ua string }
	tests := []struct {
		name     string
		handler  func(w http.ResponseWriter, r *http.Request)
		cfg      func(c *config.HealthCheck)
		wantErr  string // "" means the check passes
		wantSeen *seen
	}{
		{
			name:    "default range accepts 204",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
		},
		{
			name:    "default range rejects 404",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) },
			wantErr: "status 404",
		},
		{
			name:    "single code",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			cfg:     func(c *config.HealthCheck) { c.ExpectStatus = "200" },
			wantErr: "status 204, want 200-200",
		},
		{
			name:    "redirect not followed",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) },
			cfg:     func(c *config.HealthCheck) { c.ExpectStatus = "200-299" },
			wantErr: "status 302",
		},
		{
			name:    "expect_body found",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ready"}`)) },
			cfg:     func(c *config.HealthCheck) { c.ExpectBody = `"ready"` },
		},
		{
			name:    "expect_body missing",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"starting"}`)) },
			cfg:     func(c *config.HealthCheck) { c.ExpectBody = `"ready"` },
			wantErr: "body lacks",
		},
		{
			name: "expect_body beyond 64KiB",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(strings.Repeat("x", 64<<10)))
				w.Write([]byte("ready"))
			},
			cfg:     func(c *config.HealthCheck) { c.ExpectBody = "ready" },
			wantErr: "body lacks",
		},
		{
			name:     "path and host header",
			handler:  func(w http.ResponseWriter, r *http.Request) {},
			cfg:      func(c *config.HealthCheck) { c.Path = "healthz"; c.Host = "api.example.com" },
			wantSeen: &seen{host: "api.example.com", path: "/healthz", ua: "gantry-health-check"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got atomic.Pointer[seen]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Store(&seen{host: r.Host, path: r.URL.Path, ua: r.UserAgent()})
				tc.handler(w, r)
			}))
			defer srv.Close()
			tg := mustTarget(t, srv.URL)
			startChecker(t, fastCheck(tc.cfg), Options{}, tg)
			err := firstCheck(t, tg)
			if tc.wantErr == "" && err != "" {
				t.Fatalf("check error = %q, want pass", err)
			}
			if tc.wantErr != "" && !strings.Contains(err, tc.wantErr) {
				t.Fatalf("check error = %q, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantSeen != nil {
				if s := got.Load(); *s != *tc.wantSeen {
					t.Errorf("backend saw %+v, want %+v", *s, *tc.wantSeen)
				}
			}
		})
	}
}

func TestHTTPSCheckVerifies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close) // not defer: the parallel subtests run after this function returns
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tests := []struct {
		name    string
		tls     *tls.Config
		wantErr string
	}{
		{name: "trusted CA", tls: &tls.Config{RootCAs: pool}},
		{name: "system roots reject the test CA", tls: nil, wantErr: "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := mustTarget(t, srv.URL) // https://127.0.0.1:port
			// Loading the system roots takes seconds under -race on a busy box.
			cfg := fastCheck(func(c *config.HealthCheck) { c.Timeout = config.Duration(15 * time.Second) })
			startChecker(t, cfg, Options{TLS: tc.tls}, tg)
			err := firstCheck(t, tg)
			if (tc.wantErr == "") != (err == "") || !strings.Contains(err, tc.wantErr) {
				t.Fatalf("check error = %q, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestH2CCheck(t *testing.T) {
	t.Parallel()
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	tg := mustTarget(t, "h2c://"+srv.Listener.Addr().String())
	startChecker(t, fastCheck(nil), Options{}, tg)
	if err := firstCheck(t, tg); err != "" {
		t.Fatalf("check error = %q, want pass", err)
	}
	if p := proto.Load(); p != "HTTP/2.0" {
		t.Errorf("backend saw %v, want HTTP/2.0", p)
	}
}

func TestTCPCheck(t *testing.T) {
	t.Parallel()
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	up := mustTarget(t, open.Addr().String()) // no scheme: tcp by default
	down := mustTarget(t, closedAddr)
	startChecker(t, fastCheck(func(c *config.HealthCheck) { c.UnhealthyThreshold = 1 }), Options{}, up, down)
	waitFor(t, "closed port marked down", 10*time.Second, func() bool { return !down.State.Healthy() })
	if err := down.State.LastCheck().Err; !strings.Contains(err, "connect") {
		t.Errorf("LastCheck().Err = %q, want a connect error", err)
	}
	if err := firstCheck(t, up); err != "" || !up.State.Healthy() {
		t.Errorf("open port: check error = %q, Healthy() = %v; want pass", err, up.State.Healthy())
	}
}

func TestGRPCCheck(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := grpchealth.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_NOT_SERVING)
	go srv.Serve(lis)
	defer srv.Stop()

	tg := mustTarget(t, "h2c://"+lis.Addr().String())
	other := mustTarget(t, "h2c://"+lis.Addr().String()+"/") // same server, unknown service below
	cfg := fastCheck(func(c *config.HealthCheck) { c.Type = TypeGRPC; c.Service = "shop.Cart" })
	set := startChecker(t, cfg, Options{}, tg)
	waitFor(t, "NOT_SERVING target marked down", 10*time.Second, func() bool { return !tg.State.Healthy() })
	if err := tg.State.LastCheck().Err; !strings.Contains(err, "NOT_SERVING") {
		t.Errorf("LastCheck().Err = %q, want NOT_SERVING", err)
	}
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_SERVING)
	waitFor(t, "SERVING target back up", 10*time.Second, func() bool { return tg.State.Healthy() })
	if !inPool(set, tg) {
		t.Errorf("pool lacks the recovered gRPC target")
	}

	unknown := fastCheck(func(c *config.HealthCheck) { c.Type = TypeGRPC; c.Service = "no.Such" })
	startChecker(t, unknown, Options{}, other)
	if err := firstCheck(t, other); !strings.Contains(err, "NotFound") {
		t.Errorf("unknown service: check error = %q, want NotFound", err)
	}
}

func TestParseStatusRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		in             string
		wantLo, wantHi int
		wantErr        bool
	}{
		{name: "default", in: "", wantLo: 200, wantHi: 399},
		{name: "one code", in: "204", wantLo: 204, wantHi: 204},
		{name: "range", in: "200-299", wantLo: 200, wantHi: 299},
		{name: "spaces", in: " 200 - 204 ", wantLo: 200, wantHi: 204},
		{name: "reversed", in: "300-200", wantErr: true},
		{name: "out of range", in: "200-600", wantErr: true},
		{name: "words", in: "ok", wantErr: true},
		{name: "open range", in: "200-", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lo, hi, err := ParseStatusRange(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStatusRange(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !tc.wantErr && (lo != tc.wantLo || hi != tc.wantHi) {
				t.Fatalf("ParseStatusRange(%q) = %d, %d; want %d, %d", tc.in, lo, hi, tc.wantLo, tc.wantHi)
			}
		})
	}
}

// TestCheckerStopLeavesNoGoroutines is not parallel: the goroutine scan must see only
// this test's checker.
func TestCheckerStopLeavesNoGoroutines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	blackhole, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers: a probe hangs until Stop
	if err != nil {
		t.Fatal(err)
	}
	defer blackhole.Close()
	ts := []*balancer.Target{mustTarget(t, srv.URL), mustTarget(t, "http://"+blackhole.Addr().String()), mustTarget(t, srv.Listener.Addr().String())}
	set := balancer.NewSet(ts, balancer.SetOptions{})
	defer set.Close()
	c := New(Options{Config: fastCheck(func(c *config.HealthCheck) { c.Timeout = config.Duration(time.Hour) }), Targets: ts, Setter: set})
	c.Start()
	c.Start() // once only
	waitFor(t, "checks to run", 10*time.Second, func() bool { return ts[0].State.LastCheck() != nil })
	done := make(chan struct{})
	go func() { c.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop() did not return: a hung probe was not cancelled")
	}
	c.Stop() // idempotent
	noGoroutine(t, "health.(*Checker).run", 5*time.Second)
	if !ts[1].State.Healthy() {
		t.Errorf("cancelled probe counted as a failure")
	}
}

// TestHTTPSHostIsServerName: with host set, the check verifies the certificate against
// that name (httptest's certificate is for example.com), not the dialled IP.
func TestHTTPSHostIsServerName(t *testing.T) {
	t.Parallel()
	var sni atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName)
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tg := mustTarget(t, srv.URL)
	cfg := fastCheck(func(c *config.HealthCheck) { c.Host = "example.com:443" })
	startChecker(t, cfg, Options{TLS: &tls.Config{RootCAs: pool}}, tg)
	if err := firstCheck(t, tg); err != "" {
		t.Fatalf("check error = %q, want pass", err)
	}
	if got := sni.Load(); got != "example.com" {
		t.Errorf("server saw SNI %v, want example.com", got)
	}
}

func TestCheckerWithoutSetter(t *testing.T) {
	t.Parallel()
	tg := mustTarget(t, "127.0.0.1:1") // nothing listens on port 1
	c := New(Options{Config: fastCheck(func(c *config.HealthCheck) { c.UnhealthyThreshold = 1 }), Targets: []*balancer.Target{tg}})
	c.Start()
	defer c.Stop()
	if err := firstCheck(t, tg); err == "" {
		t.Fatalf("check of a closed port passed, want a failure")
	}
}
