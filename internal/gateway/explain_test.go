package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func explainConfig(b1, b2 string) string {
	return fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop:
    targets: ["http://%[1]s", "http://%[2]s"]
  orders:
    balance: consistent_hash
    hash_key: "header:X-User"
    targets: ["http://%[1]s", "http://%[2]s"]
routes:
  - name: products
    match: { path: "/api/products/{id}", methods: [GET] }
    upstream: shop
    rewrite: { path: "/products/{id}" }
  - name: canary
    match: { path: "/api/products/*", headers: { X-Canary: "1" } }
    upstream: orders
  - name: orders
    match: { path: "/api/orders/*", methods: [POST] }
    upstream: orders
    rewrite: { strip_prefix: /api, host: orders.internal }
    cors: { origins: ["https://a.example.com"] }
    ip_filter: { allow: ["127.0.0.0/8"] }
  - name: rpc
    match: { path: /api/rpc, body: { "$.operation": ping } }
    upstream: shop
  - name: www
    match: { hosts: [www.example.com] }
    upstream: shop
`, b1, b2)
}

func TestExplain(t *testing.T) {
	t.Parallel()
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	cfg := parse(t, explainConfig(hostport(b1), hostport(b2)))
	g := start(t, cfg)
	targets := []string{"http://" + hostport(b1), "http://" + hostport(b2)}

	type want struct {
		status      int
		route       string
		path        string
		rewrite     string
		rewriteHost string
		upstream    string
		policies    []string
		params      map[string]string
		// nearMiss maps a route to the reason it nearly matched ("" = matched, lost on priority).
		nearMiss map[string]string
		allow    string
	}
	tests := []struct {
		name string
		req  ExplainRequest
		want want
	}{
		{
			name: "param route with rewrite; the canary route misses on its header",
			req:  ExplainRequest{Method: "GET", URL: "http://api.example.com/api/products/42"},
			want: want{route: "products", path: "/api/products/42", rewrite: "/products/42", rewriteHost: "api.example.com", upstream: "shop", policies: []string{},
				params: map[string]string{"id": "42"}, nearMiss: map[string]string{"canary": "header"}},
		},
		{
			name: "header match wins where the param route misses on path",
			req:  ExplainRequest{URL: "/api/products/a/b?x=1", Header: http.Header{"X-Canary": {"1"}, "X-User": {"u7"}}},
			want: want{route: "canary", path: "/api/products/a/b", rewrite: "/api/products/a/b?x=1", upstream: "orders", policies: []string{},
				params: map[string]string{"*": "a/b"}, nearMiss: map[string]string{}},
		},
		{
			name: "dot segments are normalised before routing; policies in fixed order",
			req:  ExplainRequest{Method: "post", URL: "http://h/api/x/../orders/7"},
			want: want{route: "orders", path: "/api/orders/7", rewrite: "/orders/7", rewriteHost: "orders.internal", upstream: "orders",
				policies: []string{"ip_filter", "cors"}, params: map[string]string{"*": "7"}, nearMiss: map[string]string{}},
		},
		{
			name: "wrong method is a 405 with the route as a near miss",
			req:  ExplainRequest{Method: "DELETE", URL: "/api/orders/7"},
			want: want{status: 405, path: "/api/orders/7", allow: "POST", nearMiss: map[string]string{"orders": "method"}},
		},
		{
			name: "body condition matches a JSON body",
			req:  ExplainRequest{Method: "POST", URL: "/api/rpc", Body: []byte(`{"operation":"ping"}`)},
			want: want{route: "rpc", path: "/api/rpc", rewrite: "/api/rpc", upstream: "shop", policies: []string{}, nearMiss: map[string]string{}},
		},
		{
			name: "without the body the rpc route is a near miss",
			req:  ExplainRequest{Method: "POST", URL: "/api/rpc"},
			want: want{status: 404, path: "/api/rpc", nearMiss: map[string]string{"rpc": "body"}},
		},
		{
			name: "host route beats an any-host route; the loser matched too",
			req:  ExplainRequest{URL: "http://www.example.com/api/products/1"},
			want: want{route: "www", path: "/api/products/1", rewrite: "/api/products/1", upstream: "shop", policies: []string{},
				params: map[string]string{"*": "api/products/1"}, nearMiss: map[string]string{"products": "", "canary": "header"}},
		},
		{
			name: "nothing matches",
			req:  ExplainRequest{URL: "/nowhere"},
			want: want{status: 404, path: "/nowhere", nearMiss: map[string]string{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			live, err := g.Explain("", tc.req)
			if err != nil {
				t.Fatalf("Explain() error = %v", err)
			}
			off, err := ExplainConfig(cfg, "", tc.req)
			if err != nil {
				t.Fatalf("ExplainConfig() error = %v", err)
			}
			for _, c := range []struct {
				name string
				ex   Explanation
			}{{"Explain", live}, {"ExplainConfig", off}} {
				ex, w := c.ex, tc.want
				if ex.Status != w.status || ex.Route != w.route || ex.Path != w.path || ex.Matched != (w.route != "") || ex.Allow != w.allow {
					t.Errorf("%s() = status %d route %q path %q allow %q, want %d %q %q %q", c.name, ex.Status, ex.Route, ex.Path, ex.Allow, w.status, w.route, w.path, w.allow)
				}
				if w.route != "" {
					if ex.Rewrite == nil || ex.Rewrite.Path != w.rewrite || (w.rewriteHost != "" && ex.Rewrite.Host != w.rewriteHost) {
						t.Errorf("%s().Rewrite = %+v, want path %q host %q", c.name, ex.Rewrite, w.rewrite, w.rewriteHost)
					}
					if ex.Upstream != w.upstream || !slices.Contains(targets, ex.Target) {
						t.Errorf("%s() upstream %q target %q, want %q and one of %v", c.name, ex.Upstream, ex.Target, w.upstream, targets)
					}
					if !slices.Equal(ex.Policies, w.policies) {
						t.Errorf("%s().Policies = %v, want %v", c.name, ex.Policies, w.policies)
					}
					if fmt.Sprint(ex.Params) != fmt.Sprint(w.params) && (len(ex.Params) > 0 || len(w.params) > 0) {
						t.Errorf("%s().Params = %v, want %v", c.name, ex.Params, w.params)
					}
				}
				winners := 0
				for _, cand := range ex.Candidates {
					if cand.Winner {
						winners++
						if cand.Name != w.route {
							t.Errorf("%s() winner = %s, want %s", c.name, cand.Name, w.route)
						}
					}
					reason, near := w.nearMiss[cand.Name]
					if cand.NearMiss != near || (near && cand.Reason != reason) {
						t.Errorf("%s() candidate %s near_miss=%v reason=%q (%s), want near_miss=%v reason=%q", c.name, cand.Name, cand.NearMiss, cand.Reason, cand.Detail, near, reason)
					}
					if cand.Detail == "" {
						t.Errorf("%s() candidate %s has no detail", c.name, cand.Name)
					}
				}
				if len(ex.Candidates) != len(cfg.Routes) || winners != min(1, len(w.route)) {
					t.Errorf("%s() = %d candidates, %d winners; want %d, %d", c.name, len(ex.Candidates), winners, len(cfg.Routes), min(1, len(w.route)))
				}
			}
		})
	}
}

func TestExplainConsistentHashIsStable(t *testing.T) {
	t.Parallel()
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	cfg := parse(t, explainConfig(hostport(b1), hostport(b2)))
	g := start(t, cfg)
	// The canary route's upstream hashes on X-User: the same user gets the same target,
	// and the gateway really sends that user there.
	req := ExplainRequest{URL: "/api/products/a/b", Header: http.Header{"X-Canary": {"1"}, "X-User": {"alice"}}}
	first, err := g.Explain("", req)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		ex, _ := g.Explain("", req)
		if ex.Target != first.Target {
			t.Fatalf("Explain() target = %s, then %s; want the same for the same key", first.Target, ex.Target)
		}
	}
	hreq, _ := http.NewRequest("GET", "http://"+g.Addr("web").String()+req.URL, nil)
	hreq.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	name := map[string]string{"http://" + hostport(b1): "b1", "http://" + hostport(b2): "b2"}[first.Target]
	if got := resp.Header.Get("X-Backend"); got != name {
		t.Errorf("request went to %s, Explain() said %s (%s)", got, name, first.Target)
	}
}

func TestExplainListenerChoice(t *testing.T) {
	t.Parallel()
	cfg := parse(t, `
listeners:
  public: { address: "127.0.0.1:18080" }
  internal: { address: "127.0.0.1:18081" }
upstreams:
  shop: { targets: ["http://127.0.0.1:9"] }
routes:
  - name: inside
    listeners: [internal]
    upstream: shop
`)
	tests := []struct {
		name      string
		listener  string
		url       string
		want      string
		wantRoute string
		wantErr   error
	}{
		{name: "by port", url: "http://x:18081/a", want: "internal", wantRoute: "inside"},
		{name: "by name", listener: "internal", url: "/a", want: "internal", wantRoute: "inside"},
		{name: "by port, route limited to the other listener", url: "http://x:18080/a", want: "public"},
		{name: "ambiguous", url: "/a", wantErr: ErrUnknownListener},
		{name: "unknown name", listener: "nope", url: "/a", wantErr: ErrUnknownListener},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex, err := ExplainConfig(cfg, tc.listener, ExplainRequest{URL: tc.url})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ExplainConfig() error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if ex.Listener != tc.want || ex.Route != tc.wantRoute {
				t.Errorf("ExplainConfig() listener %q route %q, want %q %q", ex.Listener, ex.Route, tc.want, tc.wantRoute)
			}
		})
	}
}

func TestExplainConfigPoliciesMatchGateway(t *testing.T) {
	t.Parallel()
	cfg := parse(t, `
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop: { targets: ["http://127.0.0.1:9"] }
consumers:
  robot: { api_keys: ["k-0123456789abcdef"], scopes: [read] }
routes:
  - name: everything
    match: { path: /x }
    upstream: shop
    authorize: { scopes: [read] }
    auth: { api_key: {} }
    cors: { origins: ["https://a.example.com"] }
    ip_filter: { allow: ["127.0.0.0/8"] }
    limits: { max_body_bytes: 1024 }
`)
	g := start(t, cfg)
	live := g.Routes()[0].Policies
	ex, err := ExplainConfig(cfg, "", ExplainRequest{URL: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ex.Policies, live) || len(live) != 5 {
		t.Errorf("ExplainConfig().Policies = %v, gateway chain = %v; want the same 5", ex.Policies, live)
	}
	if !strings.Contains(strings.Join(ex.Notes, " "), "offline") {
		t.Errorf("ExplainConfig().Notes = %v, want the offline note", ex.Notes)
	}
}
