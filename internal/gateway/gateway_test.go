package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
)

// backend is a real loopback HTTP server that names itself in X-Backend.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name+" "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func hostport(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func parse(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	return cfg
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

// start runs a gateway for cfg and stops it when the test ends.
func start(t *testing.T, cfg *config.Config) *Gateway {
	t.Helper()
	g, err := New(cfg, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := g.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g
}

func twoBackendConfig(b1, b2 string, extraRoutes string) string {
	return fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop:
    targets: ["http://%s", "http://%s"]
routes:
  - name: all
    upstream: shop
%s`, b1, b2, extraRoutes)
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestRoundRobinAcrossBackends(t *testing.T) {
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	g := start(t, parse(t, twoBackendConfig(hostport(b1), hostport(b2), "")))
	base := "http://" + g.Addr("web").String()
	counts := map[string]int{}
	for i := 0; i < 20; i++ {
		code, _, h := get(t, http.DefaultClient, base+"/x")
		if code != 200 {
			t.Fatalf("GET /x = %d, want 200", code)
		}
		counts[h.Get("X-Backend")]++
	}
	if counts["b1"] != 10 || counts["b2"] != 10 {
		t.Fatalf("backend counts = %v, want 10 each", counts)
	}
}

func TestNoRouteIsProblem404(t *testing.T) {
	b1 := backend(t, "b1")
	cfg := parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop: { targets: ["http://%s"] }
routes:
  - name: api
    match: { path: "/api/*", methods: [GET] }
    upstream: shop
`, hostport(b1)))
	g := start(t, cfg)
	base := "http://" + g.Addr("web").String()
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{name: "no route", method: "GET", path: "/nope", want: 404},
		{name: "wrong method", method: "DELETE", path: "/api/x", want: 405},
		{name: "match", method: "GET", path: "/api/x", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatalf("no X-Request-Id on the response")
			}
			if tc.want >= 400 {
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("Content-Type = %q, want application/problem+json", ct)
				}
				if !strings.Contains(string(body), resp.Header.Get("X-Request-Id")) {
					t.Fatalf("problem body %s lacks the request id", body)
				}
			}
			if tc.want == 405 && resp.Header.Get("Allow") == "" {
				t.Fatalf("405 without Allow header")
			}
		})
	}
}

// TestReloadUnderLoadLosesNothing swaps configs repeatedly while clients send requests
// on kept-alive and fresh HTTP/1.1 connections and on HTTP/2 (h2c) connections, whose
// streams the retiring listener's HTTP/2 server must finish or refuse with GOAWAY so the
// client retries them; every request must succeed.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	b1, b2, b3 := backend(t, "b1"), backend(t, "b2"), backend(t, "b3")
	cfgA := parse(t, twoBackendConfig(hostport(b1), hostport(b2), ""))
	g := start(t, cfgA)
	addr := g.Addr("web").String()
	// Reloads keep the address: pin it in the next configs.
	pin := func(s string) string { return strings.Replace(s, "127.0.0.1:0", addr, 1) }
	cfgs := []*config.Config{
		parse(t, pin(twoBackendConfig(hostport(b2), hostport(b3), ""))),
		parse(t, pin(twoBackendConfig(hostport(b1), hostport(b3), `  - name: extra
    match: { path: "/extra/*" }
    upstream: shop
`))),
		parse(t, pin(strings.Replace(twoBackendConfig(hostport(b1), hostport(b2), ""), `address: "127.0.0.1:0"`, `address: "127.0.0.1:0", timeouts: { idle: 30s }`, 1))),
	}

	var ok, okH2, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var rt http.RoundTripper
			if w >= 4 { // h2c with prior knowledge
				h2 := h2cClient()
				defer h2.CloseIdleConnections()
				rt = h2.Transport
			} else {
				tr := &http.Transport{DisableKeepAlives: w%2 == 1}
				defer tr.CloseIdleConnections()
				rt = tr
			}
			c := &http.Client{Transport: rt, Timeout: 5 * time.Second}
			for i := 0; i < 5000; i++ { // bounded
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + addr + "/x")
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("worker %d (keepalive=%v, h2c=%v): %v", w, w%2 == 0, w >= 4, err))
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || (w >= 4) != (resp.ProtoMajor == 2) {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("worker %d: status %d over %s", w, resp.StatusCode, resp.Proto))
					continue
				}
				ok.Add(1)
				if w >= 4 {
					okH2.Add(1)
				}
			}
		}(w)
	}
	waitFor(t, func() bool { return ok.Load() > 50 })
	for round := 0; round < 3; round++ {
		for _, c := range cfgs {
			if _, err := g.Reload(c); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			before := ok.Load()
			waitFor(t, func() bool { return ok.Load() > before+20 })
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across reloads; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if okH2.Load() == 0 {
		t.Fatalf("no HTTP/2 request succeeded (%d in all), want the h2c workers to take part", ok.Load())
	}
	t.Logf("%d requests across %d reloads, %d of them over HTTP/2", ok.Load(), 3*len(cfgs), okH2.Load())
}

// TestFailedReloadKeepsRunningConfig: a config whose listener cannot bind is rejected
// and the running snapshot and listeners are untouched.
func TestFailedReloadKeepsRunningConfig(t *testing.T) {
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	g := start(t, parse(t, strings.Replace(twoBackendConfig(hostport(b1), hostport(b1), ""), `, "http://`+hostport(b1)+`"`, "", 1)))
	addr := g.Addr("web").String()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := parse(t, strings.Replace(twoBackendConfig(hostport(b2), hostport(b1), ""), `web: { address: "127.0.0.1:0" }`,
		fmt.Sprintf(`web: { address: %q }
  second: { address: %q }`, addr, busy.Addr().String()), 1))
	before := g.Snapshot()
	if _, err := g.Reload(bad); err == nil {
		t.Fatalf("Reload with a busy address succeeded, want an error")
	}
	if g.Snapshot() != before {
		t.Fatalf("snapshot changed after a failed reload")
	}
	for i := 0; i < 4; i++ {
		if _, _, h := get(t, http.DefaultClient, "http://"+addr+"/x"); h.Get("X-Backend") != "b1" {
			t.Fatalf("after failed reload X-Backend = %q, want b1 (old config)", h.Get("X-Backend"))
		}
	}
}

// TestReloadKeepsUnchangedUpstreamState: an unchanged upstream keeps its runtime (and
// with it health state and connection pool); a changed one keeps its targets' state.
func TestReloadKeepsUnchangedUpstreamState(t *testing.T) {
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	yaml := fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  keep: { targets: ["http://%[1]s"] }
  change: { targets: ["http://%[1]s", "http://%[2]s"] }
routes:
  - { name: a, match: { path: "/a/*" }, upstream: keep }
  - { name: b, match: { path: "/b/*" }, upstream: change }
`, hostport(b1), hostport(b2))
	g := start(t, parse(t, yaml))
	keep, change := g.Snapshot().upstreams["keep"], g.Snapshot().upstreams["change"]
	st := change.set.Targets()[0].State
	// Move lines around and change only the second upstream's balancer.
	yaml2 := "\n\n" + strings.Replace(yaml, `change: { targets:`, `change: { balance: random, targets:`, 1)
	if _, err := g.Reload(parse(t, yaml2)); err != nil {
		t.Fatal(err)
	}
	s := g.Snapshot()
	if s.upstreams["keep"] != keep {
		t.Fatalf("unchanged upstream got a new runtime")
	}
	if s.upstreams["change"] == change {
		t.Fatalf("changed upstream kept its old runtime")
	}
	if s.upstreams["change"].set.Targets()[0].State != st {
		t.Fatalf("changed upstream lost its target state")
	}
	if s.upstreams["change"].transport != change.transport {
		t.Fatalf("changed upstream with the same timeouts lost its connection pool")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
