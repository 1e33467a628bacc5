package router

import (
	"fmt"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// benchRoutes is a 1,000-route table shaped like a real gateway's: per-service prefix
// and item routes on any host, per-tenant exact hosts, wildcard tenants, a few
// condition-routed and regex routes (which every miss has to try).
func benchRoutes() []*config.Route {
	var rs []*config.Route
	for n := 0; n < 400; n++ {
		rs = append(rs,
			rt(fmt.Sprintf("items-%d", n), fmt.Sprintf("/api/v1/service%d/items/{id}", n), methods("GET")),
			rt(fmt.Sprintf("prefix-%d", n), fmt.Sprintf("/api/v1/service%d/*", n), methods("GET", "POST", "PUT", "DELETE"), strip("/api/v1")))
	}
	for n := 0; n < 100; n++ {
		rs = append(rs, rt(fmt.Sprintf("health-%d", n), fmt.Sprintf("/health%d", n), hosts(fmt.Sprintf("tenant%d.example.com", n%10))))
	}
	for n := 0; n < 50; n++ {
		rs = append(rs, rt(fmt.Sprintf("static-%d", n), "/static/{ver}/*", hosts(fmt.Sprintf("*.t%d.example.com", n))))
	}
	for n := 0; n < 30; n++ {
		rs = append(rs, rt(fmt.Sprintf("search-%d", n), fmt.Sprintf("/search%d", n), headers("X-Api-Version", exact("2")), query("q", present(true))))
	}
	for n := 0; n < 20; n++ {
		rs = append(rs, rt(fmt.Sprintf("legacy-%d", n), fmt.Sprintf(`~/legacy%d/[0-9]+`, n)))
	}
	return rs
}

func BenchmarkMatch(b *testing.B) {
	r := mustCompile(b, benchRoutes())
	if r.Len() != 1000 {
		b.Fatalf("Len() = %d, want 1000", r.Len())
	}
	cases := []struct {
		name   string
		req    Request
		status int
	}{
		{name: "prefix", req: Request{Method: "GET", Host: "api.example.com", Path: "/api/v1/service250/files/a/b"}},
		{name: "exact", req: Request{Method: "GET", Host: "tenant3.example.com", Path: "/health93"}},
		{name: "param", req: Request{Method: "GET", Host: "api.example.com", Path: "/api/v1/service399/items/12345"}},
		{name: "wildcard_host", req: Request{Method: "GET", Host: "cdn.t7.example.com", Path: "/static/v3/css/site.css"}},
		{name: "conditions", req: Request{Method: "GET", Host: "api.example.com", Path: "/search7", RawQuery: "lang=en&q=gantry", Header: hdr("X-Api-Version", "2")}},
		{name: "regex", req: Request{Method: "GET", Host: "api.example.com", Path: "/legacy19/42"}},
		{name: "miss_404", req: Request{Method: "GET", Host: "api.example.com", Path: "/nothing/here"}, status: 404},
		{name: "method_405", req: Request{Method: "PATCH", Host: "api.example.com", Path: "/api/v1/service10/items/1"}, status: 405},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var res Result
			r.Match(&tc.req, &res)
			if res.Status != tc.status {
				b.Fatalf("Match() status = %d, want %d", res.Status, tc.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Match(&tc.req, &res)
			}
		})
	}
	b.Run("prefix_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var res Result
			req := Request{Method: "GET", Host: "api.example.com", Path: "/api/v1/service250/files/a/b"}
			for pb.Next() {
				r.Match(&req, &res)
			}
		})
	})
}

func BenchmarkCompile1000(b *testing.B) {
	routes := benchRoutes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(routes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{name: "clean", in: "/api/v1/service250/items/12345"},
		{name: "dirty", in: "/api//v1/./service250/%2e%2e/service251/items/%31%32"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NormalizePath(tc.in)
			}
		})
	}
}

func BenchmarkRewrite(b *testing.B) {
	r := mustCompile(b, []*config.Route{
		rt("strip", "/api/*", strip("/api")),
		rt("tmpl", "/users/{id}/orders/{order}", template("/v2/orders/{order}?user={id}")),
	})
	for _, tc := range []struct{ name, path string }{
		{name: "strip", path: "/api/x/y"},
		{name: "template", path: "/users/7/orders/9"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var res Result
			r.Match(&Request{Method: "GET", Path: tc.path}, &res)
			b.ReportAllocs()
			for b.Loop() {
				_ = r.Rewrite(res.Route, tc.path, &res.Params)
			}
		})
	}
}
