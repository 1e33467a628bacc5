package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// TestPriority lists pairs (and triples) of routes that all match the request, in an
// order where the expected winner is NOT first in config, so config order alone cannot
// pass the test; a second run with the table reversed proves order-independence where
// the rule is not the config-order tie-break.
func TestPriority(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		routes     []*config.Route
		req        Request
		want       string
		orderBound bool // the winner is decided by config order, skip the reversed run
	}{
		{name: "exact host beats wildcard", routes: []*config.Route{
			rt("wild", "/x", hosts("*.example.com")), rt("exact", "/x", hosts("a.example.com")),
		}, req: Request{Host: "a.example.com", Path: "/x"}, want: "exact"},
		{name: "longer wildcard beats shorter", routes: []*config.Route{
			rt("short", "/x", hosts("*.example.com")), rt("long", "/x", hosts("*.b.example.com")),
		}, req: Request{Host: "a.b.example.com", Path: "/x"}, want: "long"},
		{name: "wildcard beats any host", routes: []*config.Route{
			rt("any", "/x"), rt("wild", "/x", hosts("*.example.com")),
		}, req: Request{Host: "a.example.com", Path: "/x"}, want: "wild"},
		{name: "host beats path specificity", routes: []*config.Route{
			rt("any-exact", "/x/y"), rt("host-tail", "/*", hosts("a.example.com")),
		}, req: Request{Host: "a.example.com", Path: "/x/y"}, want: "host-tail"},
		{name: "multi-host route ranks by best host", routes: []*config.Route{
			rt("wild", "/x", hosts("*.example.com")), rt("both", "/*", hosts("*.example.com", "a.example.com")),
		}, req: Request{Host: "a.example.com", Path: "/x"}, want: "both"},
		{name: "exact path beats param", routes: []*config.Route{
			rt("param", "/users/{id}"), rt("exact", "/users/me"),
		}, req: Request{Path: "/users/me"}, want: "exact"},
		{name: "param beats tail", routes: []*config.Route{
			rt("tail", "/users/*"), rt("param", "/users/{id}"),
		}, req: Request{Path: "/users/me"}, want: "param"},
		{name: "exact beats tail on bare prefix", routes: []*config.Route{
			rt("tail", "/api/*"), rt("exact", "/api"),
		}, req: Request{Path: "/api"}, want: "exact"},
		{name: "longer literal prefix beats earlier param", routes: []*config.Route{
			rt("param-first", "/a/{x}/c"), rt("literal-first", "/a/b/*"),
		}, req: Request{Path: "/a/b/c"}, want: "literal-first"},
		{name: "deeper tail beats shallower", routes: []*config.Route{
			rt("shallow", "/api/*"), rt("deep", "/api/v1/*"),
		}, req: Request{Path: "/api/v1/x"}, want: "deep"},
		{name: "literal beats param at first difference", routes: []*config.Route{
			rt("p1", "/{a}/b/c"), rt("l1", "/a/{b}/{c}"),
		}, req: Request{Path: "/a/b/c"}, want: "l1"},
		{name: "any path pattern beats regex", routes: []*config.Route{
			rt("re", `~/.*`), rt("tail", "/*"),
		}, req: Request{Path: "/z"}, want: "tail"},
		{name: "more conditions beat fewer", routes: []*config.Route{
			rt("plain", "/x"), rt("header", "/x", headers("X-A", exact("1"))), rt("two", "/x", methods("GET"), headers("X-A", exact("1"))),
		}, req: Request{Path: "/x", Header: hdr("X-A", "1")}, want: "two"},
		{name: "conditions only break path ties", routes: []*config.Route{
			rt("cond-param", "/x/{y}", methods("GET"), headers("X-A", present(true)), query("q", present(true))), rt("exact", "/x/y"),
		}, req: Request{Path: "/x/y", Header: hdr("X-A", "1"), RawQuery: "q"}, want: "exact"},
		{name: "failed conditions fall through to fewer", routes: []*config.Route{
			rt("header", "/x", headers("X-A", exact("1"))), rt("plain", "/x"),
		}, req: Request{Path: "/x", Header: hdr("X-A", "2")}, want: "plain"},
		{name: "failed deeper path backtracks to param", routes: []*config.Route{
			rt("deep", "/a/b/c", methods("POST")), rt("param", "/a/{x}/c"),
		}, req: Request{Path: "/a/b/c"}, want: "param"},
		{name: "regex routes by conditions", routes: []*config.Route{
			rt("re1", `~/r/.*`), rt("re2", `~/r/[a-z]+`, methods("GET")),
		}, req: Request{Path: "/r/abc"}, want: "re2"},
		{name: "config order breaks full ties", routes: []*config.Route{
			rt("first", "/x/{a}"), rt("second", "/x/{b}"),
		}, req: Request{Path: "/x/1"}, want: "first", orderBound: true},
		{name: "config order among equal regexes", routes: []*config.Route{
			rt("first", `~/x/.*`), rt("second", `~/x/1`),
		}, req: Request{Path: "/x/1"}, want: "first", orderBound: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.routes[0].Name == tc.want && !tc.orderBound {
				t.Fatalf("bad case: the winner %q is first in config", tc.want)
			}
			orders := [][]*config.Route{tc.routes}
			if !tc.orderBound {
				rev := make([]*config.Route, len(tc.routes))
				for i, r := range tc.routes {
					rev[len(rev)-1-i] = r
				}
				orders = append(orders, rev)
			}
			for _, routes := range orders {
				r := mustCompile(t, routes)
				req := tc.req
				req.Method = "GET"
				var res Result
				r.Match(&req, &res)
				if got := routeName(r, res.Route); got != tc.want {
					t.Errorf("Match(%s%s) = %s (status %d), want %s", req.Host, req.Path, got, res.Status, tc.want)
				}
			}
		})
	}
}
