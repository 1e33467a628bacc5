package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/gateway"
)

func TestReadEndpoints(t *testing.T) {
	t.Parallel()
	b1, b2 := newBackend(t, "b1", 0, 200), newBackend(t, "b2", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b2.target(), `
  - name: orders
    match: { path: "/orders/{id}", methods: [GET] }
    upstream: shop
    cors: { origins: ["https://a.example.com"] }
admin:
  address: "127.0.0.1:0"
  token: "tok-read-0123456789"
`)))
	_, base := startAdmin(t, Options{Gateway: g, Token: "tok-read-0123456789"})
	tok := "tok-read-0123456789"

	var st gateway.Status
	if code, _ := call(t, "GET", base+"/api/v1/status", tok, "", &st); code != 200 || st.Version != "v0.test" || len(st.Listeners) != 1 || st.Listeners[0].Bound != g.Addr("web").String() {
		t.Errorf("GET status = %d %+v, want 200, version v0.test, listener web bound to %s", code, st, g.Addr("web"))
	}
	var routes []gateway.RouteInfo
	if code, _ := call(t, "GET", base+"/api/v1/routes", tok, "", &routes); code != 200 || len(routes) != 2 || routes[1].Name != "orders" || fmt.Sprint(routes[1].Policies) != "[cors]" {
		t.Errorf("GET routes = %d %+v, want shop and orders (policies [cors])", code, routes)
	}
	var ups []gateway.UpstreamInfo
	if code, _ := call(t, "GET", base+"/api/v1/upstreams", tok, "", &ups); code != 200 || len(ups) != 1 || len(ups[0].Targets) != 2 || ups[0].Targets[0].URL != b1.target() || ups[0].Targets[0].State != "healthy" {
		t.Errorf("GET upstreams = %d %+v, want shop with b1, b2 healthy", code, ups)
	}
	var one gateway.UpstreamInfo
	if code, _ := call(t, "GET", base+"/api/v1/upstreams/shop", tok, "", &one); code != 200 || one.Name != "shop" {
		t.Errorf("GET upstreams/shop = %d %+v, want shop", code, one)
	}
	var cfg map[string]any
	if code, _ := call(t, "GET", base+"/api/v1/config", tok, "", &cfg); code != 200 || cfg["admin"].(map[string]any)["token"] != gateway.Redacted {
		t.Errorf("GET config = %d admin %v, want the token redacted", code, cfg["admin"])
	}

	tests := []struct {
		name, method, path string
		status             int
		reason             string
	}{
		{name: "unknown endpoint", method: "GET", path: "/api/v1/nope", status: 404, reason: "not_found"},
		{name: "unknown upstream", method: "GET", path: "/api/v1/upstreams/nope", status: 404, reason: "unknown_upstream"},
		{name: "drain without url", method: "POST", path: "/api/v1/upstreams/shop/targets/drain", status: 400, reason: "bad_request"},
		{name: "drain unknown target", method: "POST", path: "/api/v1/upstreams/shop/targets/drain?url=http://127.0.0.1:1", status: 404, reason: "unknown_target"},
		{name: "reload without a source", method: "POST", path: "/api/v1/reload", status: 501, reason: "reload_unavailable"},
		{name: "no dashboard when off", method: "GET", path: "/dashboard/", status: 404, reason: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p ProblemJSON
			code, h := call(t, tc.method, base+tc.path, tok, "", &p)
			if code != tc.status || p.Reason != tc.reason || h.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s = %d %q (%s), want %d %q problem+json", tc.method, tc.path, code, p.Reason, h.Get("Content-Type"), tc.status, tc.reason)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b1 := newBackend(t, "b1", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b1.target()+"/", "")))
	const tok = "s3cret-admin-token"
	_, base := startAdmin(t, Options{Gateway: g, Token: tok, Dashboard: true})
	tests := []struct {
		name   string
		path   string
		auth   string // the Authorization header
		status int
	}{
		{name: "no token", path: "/api/v1/status", status: 401},
		{name: "wrong token", path: "/api/v1/status", auth: "Bearer nope", status: 401},
		{name: "token as basic", path: "/api/v1/status", auth: "Basic " + tok, status: 401},
		{name: "token prefix", path: "/api/v1/status", auth: "Bearer " + tok[:5], status: 401},
		{name: "right token", path: "/api/v1/status", auth: "Bearer " + tok, status: 200},
		{name: "scheme is case-insensitive", path: "/api/v1/status", auth: "bearer " + tok, status: 200},
		{name: "metrics need it too", path: "/metrics", status: 401},
		{name: "metrics with it", path: "/metrics", auth: "Bearer " + tok, status: 200},
		{name: "stats need it", path: "/api/v1/stats", status: 401},
		{name: "dashboard page is public", path: "/dashboard/", status: 200},
		{name: "dashboard script is public", path: "/dashboard/app.js", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("GET", base+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s with %q = %d, want %d", tc.path, tc.auth, resp.StatusCode, tc.status)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("GET %s 401 WWW-Authenticate = %q, want Bearer", tc.path, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// addrListener reports another address than the one it is bound to: it lets the test
// present a non-loopback address to Serve while only ever binding loopback.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }

func TestServeRefusesNonLoopbackWithoutToken(t *testing.T) {
	t.Parallel()
	b1 := newBackend(t, "b1", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b1.target()+"/", "")))
	tests := []struct {
		name  string
		addr  string
		token string
		want  error
	}{
		{name: "all interfaces, no token", addr: "0.0.0.0:9901", want: ErrTokenRequired},
		{name: "public address, no token", addr: "192.0.2.10:9901", want: ErrTokenRequired},
		{name: "ipv6 any, no token", addr: "[::]:9901", want: ErrTokenRequired},
		{name: "public address with token", addr: "192.0.2.10:9901", token: "t"},
		{name: "loopback v4, no token", addr: "127.0.0.1:9901"},
		{name: "loopback v6, no token", addr: "[::1]:9901"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tcp, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckAddress(tc.addr, tc.token); !errors.Is(err, tc.want) {
				t.Errorf("CheckAddress(%s, %q) = %v, want %v", tc.addr, tc.token, err, tc.want)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			s := New(Options{Gateway: g, Token: tc.token, Logger: quiet()})
			done := make(chan error, 1)
			go func() { done <- s.Serve(addrListener{ln, tcp}) }()
			if tc.want != nil {
				select {
				case err := <-done:
					if !errors.Is(err, tc.want) {
						t.Errorf("Serve(%s) = %v, want %v", tc.addr, err, tc.want)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("Serve(%s) is serving, want it refused", tc.addr)
				}
				s.Shutdown(context.Background())
				return
			}
			// Allowed: it serves (the real socket is loopback).
			waitFor(t, "the admin server to answer", 5*time.Second, func() bool {
				req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/status", nil)
				req.Header.Set("Authorization", "Bearer "+tc.token)
				resp, err := client.Do(req)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			})
			s.Shutdown(context.Background())
			if err := <-done; err != http.ErrServerClosed {
				t.Errorf("Serve() after Shutdown = %v, want ErrServerClosed", err)
			}
		})
	}
}

func TestReloadViaAPI(t *testing.T) {
	t.Parallel()
	b1, b2 := newBackend(t, "b1", 0, 200), newBackend(t, "b2", 0, 200)
	path := filepath.Join(t.TempDir(), "gantry.yaml")
	base := twoTargets(b1.target(), b2.target(), "")
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, cfg)
	reload := func() (config.Changes, error) {
		c, err := config.Load(path)
		if err != nil {
			g.ReloadFailed(err)
			return config.Changes{}, err
		}
		return g.Reload(c)
	}
	_, admin := startAdmin(t, Options{Gateway: g, Reload: reload})
	gw := "http://" + g.Addr("web").String()

	// A good change: a new route.
	good := base + `
  - name: extra
    match: { path: "/extra" }
    upstream: shop
`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	var res ReloadResult
	if code, _ := call(t, "POST", admin+"/api/v1/reload", "", "", &res); code != 200 || fmt.Sprint(res.Changes.Routes.Added) != "[extra]" {
		t.Fatalf("POST reload = %d %+v, want 200 with routes +extra", code, res)
	}
	if resp, err := client.Get(gw + "/extra"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /extra after reload = %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}

	// A broken file: 422 with positioned problems; the running config stays.
	if err := os.WriteFile(path, []byte(good+"    rewrite: { path: \"/{nope}\" }\n  - name: bad\n    upstream: missing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var p ProblemJSON
	code, _ := call(t, "POST", admin+"/api/v1/reload", "", "", &p)
	if code != 422 || p.Reason != "invalid_config" || len(p.Problems) == 0 {
		t.Fatalf("POST reload of a broken file = %d %+v, want 422 invalid_config with problems", code, p)
	}
	for _, pr := range p.Problems {
		if pr.Line == 0 || pr.File != path || pr.Message == "" {
			t.Errorf("problem %+v, want file %s and a line", pr, path)
		}
	}
	var st gateway.Status
	call(t, "GET", admin+"/api/v1/status", "", "", &st)
	if st.Reload.OK || st.Reload.Failures != 1 || st.ConfigHash == "" {
		t.Errorf("status after a failed reload = %+v, want the failure recorded", st.Reload)
	}
	if resp, err := client.Get(gw + "/extra"); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /extra after a failed reload = %v %v, want 200 (old config kept)", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	b1, b2 := newBackend(t, "b1", 0, 200), newBackend(t, "b2", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b2.target(), "")))
	_, base := startAdmin(t, Options{Gateway: g})

	broken := `listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop: { targets: ["http://127.0.0.1:9"], balance: nope }
routes:
  - name: r
    upstream: shopp
`
	var p ProblemJSON
	code, h := call(t, "POST", base+"/api/v1/config/validate", "", broken, &p)
	if code != 422 || h.Get("Content-Type") != "application/problem+json" || len(p.Problems) != 2 {
		t.Fatalf("POST validate (broken) = %d %s %+v, want 422 problem+json with 2 problems", code, h.Get("Content-Type"), p)
	}
	want := []struct {
		line int
		path string
	}{{4, "upstreams.shop.balance"}, {7, "routes[0].upstream"}}
	for i, w := range want {
		if got := p.Problems[i]; got.Line != w.line || got.Path != w.path || got.Column == 0 {
			t.Errorf("problem %d = %+v, want line %d path %s with a column", i, got, w.line, w.path)
		}
	}

	good := twoTargets(b1.target(), b2.target(), `
  - name: extra
    upstream: shop
`)
	good = strings.Replace(good, "  shop:\n", "  shop:\n    balance: random\n", 1)
	var v ValidateResult
	code, _ = call(t, "POST", base+"/api/v1/config/validate", "", good, &v)
	if code != 200 || !v.Valid || fmt.Sprint(v.Changes.Routes.Added) != "[extra]" || fmt.Sprint(v.Changes.Upstreams.Modified) != "[shop]" {
		t.Errorf("POST validate (good) = %d %+v, want routes +extra, upstreams ~shop", code, v)
	}
	// Nothing was applied.
	var routes []gateway.RouteInfo
	call(t, "GET", base+"/api/v1/routes", "", "", &routes)
	if len(routes) != 1 {
		t.Errorf("routes after validate = %+v, want the running one only", routes)
	}
}

func TestExplainAPI(t *testing.T) {
	t.Parallel()
	b1, b2 := newBackend(t, "b1", 0, 200), newBackend(t, "b2", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b2.target(), `
  - name: canary
    match: { path: "/shop/*", headers: { X-Canary: "1" } }
    upstream: shop
  - name: orders
    match: { path: "/orders/{id}", methods: [POST] }
    upstream: shop
    rewrite: { path: "/v2/orders/{id}" }
`)))
	_, base := startAdmin(t, Options{Gateway: g})
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		wantRoute string
		wantNear  string
		wantRw    string
		wantCode  int
	}{
		{name: "POST json, header route", method: "POST", path: "/api/v1/explain",
			body: `{"method":"GET","url":"http://x/shop/a","headers":{"X-Canary":"1"}}`, wantRoute: "canary", wantRw: "/shop/a", wantCode: 200},
		{name: "POST json, header list", method: "POST", path: "/api/v1/explain",
			body: `{"url":"/shop/a","headers":{"X-Canary":["1"]}}`, wantRoute: "canary", wantRw: "/shop/a", wantCode: 200},
		{name: "GET query, near miss on header", method: "GET", path: "/api/v1/explain?url=/shop/a&header=X-Canary:%202",
			wantRoute: "shop", wantNear: "canary", wantRw: "/shop/a", wantCode: 200},
		{name: "GET query, rewrite with param", method: "GET", path: "/api/v1/explain?method=POST&url=/orders/9",
			wantRoute: "orders", wantRw: "/v2/orders/9", wantCode: 200},
		{name: "no url", method: "POST", path: "/api/v1/explain", body: `{"method":"GET"}`, wantCode: 400},
		{name: "unknown field", method: "POST", path: "/api/v1/explain", body: `{"url":"/","bogus":1}`, wantCode: 400},
		{name: "unknown listener", method: "GET", path: "/api/v1/explain?url=/&listener=nope", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ex gateway.Explanation
			var out any = &ex
			if tc.wantCode != 200 {
				out = &ProblemJSON{}
			}
			code, _ := call(t, tc.method, base+tc.path, "", tc.body, out)
			if code != tc.wantCode {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, code, tc.wantCode)
			}
			if code != 200 {
				return
			}
			if ex.Route != tc.wantRoute || ex.Rewrite == nil || ex.Rewrite.Path != tc.wantRw || (ex.Target != b1.target() && ex.Target != b2.target()) {
				t.Errorf("explain = route %q rewrite %+v target %q, want %q %q and a target", ex.Route, ex.Rewrite, ex.Target, tc.wantRoute, tc.wantRw)
			}
			if tc.wantNear != "" {
				found := false
				for _, c := range ex.Candidates {
					found = found || (c.Name == tc.wantNear && c.NearMiss && c.Reason == "header" && strings.Contains(c.Detail, `"2"`))
				}
				if !found {
					t.Errorf("explain candidates = %+v, want %s as a header near miss mentioning the value sent", ex.Candidates, tc.wantNear)
				}
			}
		})
	}
}

// TestDrainUnderLoad drains a target while clients keep sending: no request fails,
// once the drain is acknowledged and the target's in-flight requests are done no new
// request reaches it, and undrain brings it back.
func TestDrainUnderLoad(t *testing.T) {
	t.Parallel()
	b1, b2 := newBackend(t, "b1", 2*time.Millisecond, 200), newBackend(t, "b2", 2*time.Millisecond, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b2.target(), "")))
	_, admin := startAdmin(t, Options{Gateway: g})
	url := "http://" + g.Addr("web").String() + "/shop/x"

	var sent, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers, maxPerWorker = 4, 3000
	deadline := time.Now().Add(15 * time.Second)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxPerWorker && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}
	stopLoad := func() { close(stop); wg.Wait() }
	defer func() {
		select {
		case <-stop:
		default:
			stopLoad()
		}
	}()

	waitFor(t, "traffic on both targets", 10*time.Second, func() bool { return b1.hits.Load() > 20 && b2.hits.Load() > 20 })
	var dr DrainResult
	if code, _ := call(t, "POST", admin+"/api/v1/upstreams/shop/targets/drain", "", fmt.Sprintf(`{"url":%q}`, b1.target()), &dr); code != 200 || dr.Target.State != "drained" {
		t.Fatalf("POST drain = %d %+v, want 200 and state drained", code, dr)
	}
	// Requests that picked b1 before the drain finish there; then b1 gets nothing new.
	waitFor(t, "b1's in-flight requests to finish", 5*time.Second, func() bool {
		for _, u := range g.Upstreams() {
			for _, tg := range u.Targets {
				if tg.URL == b1.target() {
					return tg.InFlight == 0
				}
			}
		}
		return false
	})
	atDrain, b2AtDrain := b1.hits.Load(), b2.hits.Load()
	waitFor(t, "more traffic after the drain", 10*time.Second, func() bool { return b2.hits.Load() > b2AtDrain+200 })
	if got := b1.hits.Load(); got != atDrain {
		t.Errorf("b1 got %d new requests after the drain, want 0", got-atDrain)
	}

	if code, _ := call(t, "POST", admin+"/api/v1/upstreams/shop/targets/undrain?url="+b1.target(), "", "", &dr); code != 200 || dr.Target.State != "healthy" {
		t.Fatalf("POST undrain = %d %+v, want 200 and healthy", code, dr)
	}
	waitFor(t, "b1 to take traffic again", 10*time.Second, func() bool { return b1.hits.Load() > atDrain+20 })
	stopLoad()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during drain/undrain (first: %v), want 0", n, sent.Load(), firstErr.Load())
	}
	t.Logf("%d requests, b1 %d, b2 %d", sent.Load(), b1.hits.Load(), b2.hits.Load())
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	b1, b2 := newBackend(t, "b1", 0, 200), newBackend(t, "b2", 0, 500)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b2.target(), "")))
	_, admin := startAdmin(t, Options{Gateway: g})
	for range 10 {
		resp, err := client.Get("http://" + g.Addr("web").String() + "/shop/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := client.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`gantry_http_requests_total{code_class="2xx",method="GET",route="shop",upstream="shop"}`)) {
		t.Fatalf("GET /metrics = %d, want 200 with the shop route's requests:\n%s", resp.StatusCode, body)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	ok, bad := newBackend(t, "ok", time.Millisecond, 200), newBackend(t, "bad", 0, 500)
	g := startGateway(t, parseConfig(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  good: { targets: ["%s"] }
  broken: { targets: ["%s"], retries: { attempts: 1 } }
routes:
  - name: good
    match: { path: "/good" }
    upstream: good
  - name: broken
    match: { path: "/broken" }
    upstream: broken
`, ok.target(), bad.target())))
	_, admin := startAdmin(t, Options{Gateway: g, SampleInterval: 100 * time.Millisecond, Window: time.Second})
	gw := "http://" + g.Addr("web").String()

	// The stream: read events while traffic flows.
	req, _ := http.NewRequest("GET", admin+"/api/v1/stats/stream", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream Content-Type = %q, want text/event-stream", ct)
	}
	events := make(chan Stats, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var st Stats
				if json.Unmarshal([]byte(data), &st) == nil {
					select {
					case events <- st:
					default:
					}
				}
			}
		}
	}()

	send := func(path string, n int) {
		for range n {
			resp, err := client.Get(gw + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	var got Stats
	deadline := time.After(10 * time.Second)
	for {
		send("/good", 5)
		send("/broken", 2)
		send("/nowhere", 1)
		select {
		case st, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			got = st
		case <-deadline:
			t.Fatalf("no stats event showed the traffic; last: %+v", got)
		}
		r := map[string]Series{}
		for _, s := range got.Routes {
			r[s.Name] = s
		}
		if r["good"].RPS > 0 && r["good"].P50 != nil && r["broken"].ErrorRate > 0.99 && r[""].Total > 0 && len(got.Errors) > 0 {
			if r["good"].ErrorRate != 0 || r["good"].Upstream != "good" {
				t.Errorf("route good = %+v, want no errors and upstream good", r["good"])
			}
			if p := *r["good"].P50; p < 1 || p > 5000 {
				t.Errorf("route good p50 = %.3fms, want ≥ 1ms (the backend sleeps 1ms) and sane", p)
			}
			break
		}
	}
	reasons := map[string]bool{}
	for _, e := range got.Errors {
		reasons[fmt.Sprint(e.Status, e.Reason)] = true
	}
	if !reasons["500"] || !reasons["404no_route"] {
		t.Errorf("recent errors = %+v, want the upstream 500 and the 404 no_route", got.Errors)
	}

	// The snapshot carries history for the charts: a point per sample.
	var full Stats
	waitFor(t, "history points", 10*time.Second, func() bool {
		if code, _ := call(t, "GET", admin+"/api/v1/stats", "", "", &full); code != 200 {
			t.Fatalf("GET stats = %d", code)
		}
		for _, s := range full.Routes {
			if s.Name == "good" {
				return len(s.History) >= 3 && s.History[len(s.History)-1].T > s.History[0].T
			}
		}
		return false
	})
	for _, u := range full.Upstreams {
		if u.Name == "good" && (len(u.Targets) != 1 || u.Targets[0].State != "healthy" || u.Total == 0) {
			t.Errorf("upstream good = %+v, want its healthy target and tries counted", u)
		}
	}
}

func TestBucketQuantile(t *testing.T) {
	t.Parallel()
	bounds := []float64{0.001, 0.01, 0.1, 1}
	tests := []struct {
		name  string
		cum   []float64
		total float64
		q     float64
		want  float64
	}{
		{name: "all in the first bucket, median", cum: []float64{10, 10, 10, 10}, total: 10, q: 0.5, want: 0.0005},
		{name: "interpolated in the second bucket", cum: []float64{0, 10, 10, 10}, total: 10, q: 0.5, want: 0.0055},
		{name: "p99 in the last finite bucket", cum: []float64{50, 90, 98, 100}, total: 100, q: 0.99, want: 0.55},
		{name: "rank in +Inf answers the top bound", cum: []float64{0, 0, 0, 0}, total: 5, q: 0.5, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := bucketQuantile(tc.q, bounds, tc.cum, tc.total); got < tc.want*0.999 || got > tc.want*1.001 {
				t.Errorf("bucketQuantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestShutdownStopsSampler(t *testing.T) {
	t.Parallel()
	b1 := newBackend(t, "b1", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b1.target(), b1.target()+"/", "")))
	s := New(Options{Gateway: g, Logger: quiet(), SampleInterval: 10 * time.Millisecond})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.stats.stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("sampler still running after Shutdown")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
}
