package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

func TestStatus404And405(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("host-get", "/items/{id}", hosts("api.example.com"), methods("GET")),
		rt("any-delete", "/items/*", methods("DELETE")),
		rt("re-put", `~/items/[0-9]+`, methods("PUT")),
		rt("hdr-post", "/orders", methods("POST"), headers("X-Key", present(true))),
		rt("other-host-patch", "/items/{id}", hosts("b.example.com"), methods("PATCH")),
		rt("internal-trace", "/items/{id}", listeners("admin"), methods("TRACE")),
	}
	runMatchCases(t, []matchCase{
		{name: "allow is the union across host tiers, trie and regex", routes: table,
			req: Request{Method: "POST", Host: "api.example.com", Path: "/items/7", Listener: "web"}, want: "-", status: 405, allow: "GET, HEAD, PUT, DELETE"},
		{name: "routes of other hosts and listeners do not count", routes: table,
			req: Request{Method: "POST", Host: "c.example.com", Path: "/items/7", Listener: "web"}, want: "-", status: 405, allow: "PUT, DELETE"},
		{name: "regex route wins when its method matches", routes: table,
			req: Request{Method: "PUT", Host: "api.example.com", Path: "/items/7"}, want: "re-put", noParams: true},
		{name: "path miss is 404", routes: table,
			req: Request{Method: "GET", Host: "api.example.com", Path: "/nothing"}, want: "-", status: 404},
		{name: "method ok but header missing is 404", routes: table,
			req: Request{Method: "POST", Path: "/orders"}, want: "-", status: 404},
		{name: "method wrong and header missing is 405", routes: table,
			req: Request{Method: "GET", Path: "/orders"}, want: "-", status: 405, allow: "POST"},
	})
}

func TestNeedsBody(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("rpc", "/rpc", methods("POST"), body("$.op", exact("a"))),
		rt("rpc-big", "/rpc/{x}", methods("POST"), body("$.op", exact("b")), maxBody(1<<20)),
		rt("rpc-tail", "/rpc/*", methods("POST"), body("$.op", exact("d")), maxBody(4096)),
		rt("rpc-re", `~/rpc/x`, methods("PUT"), body("$.op", exact("c")), maxBody(100)),
		rt("plain", "/plain"),
		rt("other-host", "/h", hosts("a.com"), body("$.x", present(true))),
	}
	r := mustCompile(t, table)
	cases := []struct {
		name string
		req  Request
		need bool
		max  int64
	}{
		{name: "body route default size", req: Request{Method: "POST", Path: "/rpc"}, need: true, max: DefaultMaxBodyBytes},
		{name: "largest of several candidates", req: Request{Method: "POST", Path: "/rpc/x"}, need: true, max: 1 << 20},
		{name: "regex candidate", req: Request{Method: "PUT", Path: "/rpc/x"}, need: true, max: 100},
		{name: "method excludes body routes", req: Request{Method: "GET", Path: "/rpc"}},
		{name: "no body route on path", req: Request{Method: "POST", Path: "/plain"}},
		{name: "body route of other host", req: Request{Method: "GET", Host: "b.com", Path: "/h"}},
		{name: "body route of host", req: Request{Method: "GET", Host: "a.com", Path: "/h"}, need: true, max: DefaultMaxBodyBytes},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			need, max := r.NeedsBody(&tc.req)
			if need != tc.need || max != tc.max {
				t.Errorf("NeedsBody(%s %s) = %v, %d, want %v, %d", tc.req.Method, tc.req.Path, need, max, tc.need, tc.max)
			}
		})
	}
	t.Run("no body routes at all", func(t *testing.T) {
		t.Parallel()
		r := mustCompile(t, []*config.Route{rt("a", "/*")})
		if need, max := r.NeedsBody(&Request{Method: "POST", Path: "/x"}); need || max != 0 {
			t.Errorf("NeedsBody() = %v, %d, want false, 0", need, max)
		}
	})
}
