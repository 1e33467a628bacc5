package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// TestMatchDoesNotAllocate pins the hot-path contract; the benchmarks report the same
// numbers, this makes a regression fail the build. Not parallel: AllocsPerRun forbids it.
func TestMatchDoesNotAllocate(t *testing.T) {
	r := mustCompile(t, []*config.Route{
		rt("exact", "/health", hosts("api.example.com")),
		rt("param", "/users/{id}/orders/{order}", methods("GET")),
		rt("tail", "/static/*", hosts("*.example.com")),
		rt("cond", "/c", headers("X-Version", regex(`v[0-9]+`)), query("page", exact("2"))),
		rt("body", "/rpc", methods("POST"), body("$.op", exact("create"))),
		rt("re", `~/re/[0-9]+`),
	})
	h := hdr("X-Version", "v2")
	cases := []struct {
		name string
		req  Request
	}{
		{name: "exact", req: Request{Method: "GET", Host: "api.example.com", Path: "/health"}},
		{name: "param", req: Request{Method: "GET", Host: "x.org", Path: "/users/1/orders/2"}},
		{name: "tail", req: Request{Method: "GET", Host: "a.example.com", Path: "/static/css/a.css"}},
		{name: "conditions", req: Request{Method: "GET", Path: "/c", RawQuery: "a=1&page=2", Header: h}},
		{name: "body", req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"id":1,"op":"create"}`)}},
		{name: "regex", req: Request{Method: "GET", Path: "/re/42"}},
		{name: "miss", req: Request{Method: "GET", Path: "/nothing/here"}},
		{name: "405", req: Request{Method: "DELETE", Path: "/users/1/orders/2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res Result
			r.Match(&tc.req, &res) // warm pools (regexp machines, json scanner)
			if n := testing.AllocsPerRun(200, func() { r.Match(&tc.req, &res) }); n != 0 {
				t.Errorf("Match(%s) allocs = %v, want 0", tc.name, n)
			}
			if n := testing.AllocsPerRun(200, func() { r.NeedsBody(&tc.req) }); n != 0 {
				t.Errorf("NeedsBody(%s) allocs = %v, want 0", tc.name, n)
			}
		})
	}
	t.Run("strip rewrite", func(t *testing.T) {
		r := mustCompile(t, []*config.Route{rt("s", "/api/*", strip("/api"))})
		var res Result
		req := Request{Method: "GET", Path: "/api/x/y"}
		r.Match(&req, &res)
		if n := testing.AllocsPerRun(200, func() { _ = r.Rewrite(res.Route, req.Path, &res.Params) }); n != 0 {
			t.Errorf("Rewrite(strip) allocs = %v, want 0", n)
		}
	})
	t.Run("normalize clean", func(t *testing.T) {
		for _, p := range []string{"/", "/api/v1/users/42", "/a%2Fb/c%20d/", "/a.b/...c"} {
			if n := testing.AllocsPerRun(200, func() { _, _ = NormalizePath(p) }); n != 0 {
				t.Errorf("NormalizePath(%q) allocs = %v, want 0", p, n)
			}
		}
	})
}
