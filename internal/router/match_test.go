package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// matchCase is one request against a route table and what Match must say.
type matchCase struct {
	name     string
	routes   []*config.Route
	req      Request
	want     string            // winning route name, "-" for none
	status   int               // 0, 404 or 405
	allow    string            // for 405
	params   map[string]string // expected params (all of them)
	tail     string
	noParams bool // assert Params.N == 0
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mustCompile(t, tc.routes)
			req := tc.req
			if req.Method == "" {
				req.Method = "GET"
			}
			var res Result
			r.Match(&req, &res)
			if got := routeName(r, res.Route); got != tc.want || res.Status != tc.status {
				t.Fatalf("Match(%s %s%s) = %s/%d, want %s/%d", req.Method, req.Host, req.Path, got, res.Status, tc.want, tc.status)
			}
			if res.Allow != tc.allow {
				t.Errorf("Match().Allow = %q, want %q", res.Allow, tc.allow)
			}
			if tc.params != nil {
				if res.Params.N != len(tc.params) {
					t.Errorf("Match().Params.N = %d, want %d", res.Params.N, len(tc.params))
				}
				for k, v := range tc.params {
					if got := res.Params.Get(k); got != v {
						t.Errorf("Params.Get(%q) = %q, want %q", k, got, v)
					}
				}
			}
			if tc.noParams && res.Params.N != 0 {
				t.Errorf("Match().Params.N = %d, want 0", res.Params.N)
			}
			if res.Params.Tail != tc.tail {
				t.Errorf("Match().Params.Tail = %q, want %q", res.Params.Tail, tc.tail)
			}
		})
	}
}

func TestMatchPaths(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("root", "/"),
		rt("health", "/health"),
		rt("health-slash", "/health/"),
		rt("user", "/users/{id}"),
		rt("user-orders", "/users/{id}/orders/{order}"),
		rt("api", "/api/*"),
		rt("files", "/files/{bucket}/*"),
		rt("re", `~/re/[0-9]+`),
	}
	runMatchCases(t, []matchCase{
		{name: "root", routes: table, req: Request{Path: "/"}, want: "root", noParams: true},
		{name: "exact", routes: table, req: Request{Path: "/health"}, want: "health", noParams: true},
		{name: "trailing slash is a different path", routes: table, req: Request{Path: "/health/"}, want: "health-slash"},
		{name: "exact is not a prefix", routes: table, req: Request{Path: "/health/x"}, want: "-", status: 404},
		{name: "exact needs the whole segment", routes: table, req: Request{Path: "/healthz"}, want: "-", status: 404},
		{name: "param", routes: table, req: Request{Path: "/users/42"}, want: "user", params: map[string]string{"id": "42"}},
		{name: "two params", routes: table, req: Request{Path: "/users/7/orders/x-1"}, want: "user-orders", params: map[string]string{"id": "7", "order": "x-1"}},
		{name: "param needs a non-empty segment", routes: table, req: Request{Path: "/users/"}, want: "-", status: 404},
		{name: "param is one segment", routes: table, req: Request{Path: "/users/1/2"}, want: "-", status: 404},
		{name: "tail matches the bare prefix", routes: table, req: Request{Path: "/api"}, want: "api", tail: ""},
		{name: "tail matches prefix with slash", routes: table, req: Request{Path: "/api/"}, want: "api", tail: ""},
		{name: "tail matches deep path", routes: table, req: Request{Path: "/api/x/y"}, want: "api", tail: "x/y"},
		{name: "tail is segment-aware", routes: table, req: Request{Path: "/apix"}, want: "-", status: 404},
		{name: "param then tail", routes: table, req: Request{Path: "/files/b1/a/b.txt"}, want: "files", params: map[string]string{"bucket": "b1"}, tail: "a/b.txt"},
		{name: "param then tail, bare", routes: table, req: Request{Path: "/files/b1"}, want: "files", params: map[string]string{"bucket": "b1"}},
		{name: "regex", routes: table, req: Request{Path: "/re/123"}, want: "re", noParams: true},
		{name: "regex is anchored", routes: table, req: Request{Path: "/re/123/x"}, want: "-", status: 404},
		{name: "regex is anchored at start", routes: table, req: Request{Path: "/x/re/1"}, want: "-", status: 404},
		{name: "empty path is any path", routes: []*config.Route{rt("any", "")}, req: Request{Path: "/a/b"}, want: "any", tail: "a/b"},
		{name: "any path matches root", routes: []*config.Route{rt("any", "")}, req: Request{Path: "/"}, want: "any"},
		{name: "non-origin path never matches", routes: []*config.Route{rt("any", "")}, req: Request{Path: "a"}, want: "-", status: 404},
		{name: "empty request path never matches", routes: []*config.Route{rt("any", "")}, req: Request{Path: ""}, want: "-", status: 404},
		{name: "encoded slash is data", routes: table, req: Request{Path: "/users/a%2Fb"}, want: "user", params: map[string]string{"id": "a%2Fb"}},
	})
}

func TestMatchHosts(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("exact", "/", hosts("api.example.com")),
		rt("wild", "/", hosts("*.example.com")),
		rt("wild-deep", "/", hosts("*.eu.example.com")),
		rt("upper", "/", hosts("Shop.Example.COM.")),
		rt("any", "/"),
	}
	runMatchCases(t, []matchCase{
		{name: "exact", routes: table, req: Request{Host: "api.example.com", Path: "/"}, want: "exact"},
		{name: "exact, upper-case request", routes: table, req: Request{Host: "API.Example.com", Path: "/"}, want: "exact"},
		{name: "exact, with port", routes: table, req: Request{Host: "api.example.com:8443", Path: "/"}, want: "exact"},
		{name: "exact, trailing dot", routes: table, req: Request{Host: "api.example.com.", Path: "/"}, want: "exact"},
		{name: "pattern lower-cased", routes: table, req: Request{Host: "shop.example.com", Path: "/"}, want: "upper"},
		{name: "wildcard one label", routes: table, req: Request{Host: "www.example.com", Path: "/"}, want: "wild"},
		{name: "wildcard many labels", routes: table, req: Request{Host: "a.b.example.com", Path: "/"}, want: "wild"},
		{name: "longer wildcard wins", routes: table, req: Request{Host: "x.eu.example.com", Path: "/"}, want: "wild-deep"},
		{name: "wildcard is not the apex", routes: table, req: Request{Host: "example.com", Path: "/"}, want: "any"},
		{name: "other host", routes: table, req: Request{Host: "other.org", Path: "/"}, want: "any"},
		{name: "no host", routes: table, req: Request{Host: "", Path: "/"}, want: "any"},
		{name: "ipv6 with port", routes: []*config.Route{rt("v6", "/", hosts("[::1]"))}, req: Request{Host: "[::1]:80", Path: "/"}, want: "v6"},
		{name: "host-only table misses", routes: []*config.Route{rt("exact", "/", hosts("a.com"))}, req: Request{Host: "b.com", Path: "/"}, want: "-", status: 404},
		{name: "star means any", routes: []*config.Route{rt("star", "/", hosts("a.com", "*"))}, req: Request{Host: "b.com", Path: "/"}, want: "star"},
		{name: "wildcard route falls back for path", routes: []*config.Route{
			rt("exact", "/a", hosts("api.example.com")),
			rt("wild", "/b", hosts("*.example.com")),
		}, req: Request{Host: "api.example.com", Path: "/b"}, want: "wild"},
		{name: "nested wildcard falls back to shorter", routes: []*config.Route{
			rt("deep", "/a", hosts("*.eu.example.com")),
			rt("short", "/b", hosts("*.example.com")),
			rt("any", "/c"),
		}, req: Request{Host: "x.eu.example.com", Path: "/b"}, want: "short"},
		{name: "nested wildcard falls back to any", routes: []*config.Route{
			rt("deep", "/a", hosts("*.eu.example.com")),
			rt("short", "/b", hosts("*.example.com")),
			rt("any", "/c"),
		}, req: Request{Host: "x.eu.example.com", Path: "/c"}, want: "any"},
	})
}

func TestMatchMethods(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("get", "/items", methods("GET")),
		rt("post", "/items", methods("post")),
		rt("purge", "/cache", methods("PURGE")),
		rt("anymethod", "/free"),
	}
	preflight := hdr("Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	runMatchCases(t, []matchCase{
		{name: "get", routes: table, req: Request{Method: "GET", Path: "/items"}, want: "get"},
		{name: "head follows get", routes: table, req: Request{Method: "HEAD", Path: "/items"}, want: "get"},
		{name: "lower-case config method", routes: table, req: Request{Method: "POST", Path: "/items"}, want: "post"},
		{name: "request methods are case-sensitive", routes: table, req: Request{Method: "post", Path: "/items"}, want: "-", status: 405, allow: "GET, HEAD, POST"},
		{name: "405 lists allowed methods", routes: table, req: Request{Method: "DELETE", Path: "/items"}, want: "-", status: 405, allow: "GET, HEAD, POST"},
		{name: "extension method", routes: table, req: Request{Method: "PURGE", Path: "/cache"}, want: "purge"},
		{name: "405 with extension method", routes: table, req: Request{Method: "GET", Path: "/cache"}, want: "-", status: 405, allow: "PURGE"},
		{name: "no methods means any", routes: table, req: Request{Method: "BREW", Path: "/free"}, want: "anymethod"},
		{name: "cors preflight routes to the asked method", routes: table, req: Request{Method: "OPTIONS", Path: "/items", Header: preflight}, want: "post"},
		{name: "plain options is 405", routes: table, req: Request{Method: "OPTIONS", Path: "/items"}, want: "-", status: 405, allow: "GET, HEAD, POST"},
		{name: "preflight needs origin", routes: table, req: Request{Method: "OPTIONS", Path: "/items", Header: hdr("Access-Control-Request-Method", "POST")}, want: "-", status: 405, allow: "GET, HEAD, POST"},
	})
}

func TestMatchConditions(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("h-exact", "/h", headers("x-version", exact("2"))),
		rt("h-regex", "/h", headers("X-Version", regex(`3|4`))),
		rt("h-present", "/h", headers("X-Beta", present(true))),
		rt("h-absent", "/h", headers("Authorization", present(false))),
		rt("q-exact", "/q", query("v", exact("a b"))),
		rt("q-regex", "/q", query("page", regex(`[0-9]+`))),
		rt("q-present", "/q", query("debug", present(true))),
		rt("q-absent", "/q", query("x", present(false))),
		rt("q-fallback", "/q", methods("PUT")),
	}
	runMatchCases(t, []matchCase{
		{name: "header exact, canonicalised name", routes: table, req: Request{Path: "/h", Header: hdr("X-Version", "2")}, want: "h-exact"},
		{name: "header exact is whole value", routes: table, req: Request{Path: "/h", Header: hdr("X-Version", "22", "Authorization", "x")}, want: "-", status: 404},
		{name: "header second value matches", routes: table, req: Request{Path: "/h", Header: hdr("X-Version", "1", "X-Version", "2")}, want: "h-exact"},
		{name: "header regex", routes: table, req: Request{Path: "/h", Header: hdr("X-Version", "4")}, want: "h-regex"},
		{name: "header regex anchored", routes: table, req: Request{Path: "/h", Header: hdr("X-Version", "34", "Authorization", "x")}, want: "-", status: 404},
		{name: "header present", routes: table, req: Request{Path: "/h", Header: hdr("X-Beta", "", "Authorization", "x")}, want: "h-present"},
		{name: "header absent", routes: table, req: Request{Path: "/h", Header: hdr("X-Other", "1")}, want: "h-absent"},
		{name: "nil header absent", routes: table, req: Request{Path: "/h"}, want: "h-absent"},
		{name: "conditions failing is 404 not 405", routes: table, req: Request{Path: "/h", Header: hdr("Authorization", "x")}, want: "-", status: 404},
		{name: "query exact decoded plus", routes: table, req: Request{Path: "/q", RawQuery: "v=a+b"}, want: "q-exact"},
		{name: "query exact decoded percent", routes: table, req: Request{Path: "/q", RawQuery: "z=1&v=a%20b"}, want: "q-exact"},
		{name: "query encoded key", routes: table, req: Request{Path: "/q", RawQuery: "%76=a%20b"}, want: "q-exact"},
		{name: "query bad encoding never matches", routes: table, req: Request{Path: "/q", RawQuery: "v=a%2&x=1"}, want: "-", status: 404},
		{name: "query regex", routes: table, req: Request{Path: "/q", RawQuery: "page=12&x=1"}, want: "q-regex"},
		{name: "query regex on encoded value", routes: table, req: Request{Path: "/q", RawQuery: "page=%31%32&x=1"}, want: "q-regex"},
		{name: "query regex anchored", routes: table, req: Request{Path: "/q", RawQuery: "page=1a&x=1"}, want: "-", status: 404},
		{name: "query second occurrence", routes: table, req: Request{Path: "/q", RawQuery: "page=a&page=3&x=1"}, want: "q-regex"},
		{name: "query present without value", routes: table, req: Request{Path: "/q", RawQuery: "debug&x=1"}, want: "q-present"},
		{name: "query present with empty value", routes: table, req: Request{Path: "/q", RawQuery: "x=1&debug="}, want: "q-present"},
		{name: "query prefix of key is not the key", routes: table, req: Request{Path: "/q", RawQuery: "debugger=1&x=1"}, want: "-", status: 404},
		{name: "query absent", routes: table, req: Request{Path: "/q", RawQuery: "y=1&&"}, want: "q-absent"},
		{name: "405 only when no route accepts the method", routes: table, req: Request{Method: "DELETE", Path: "/q", RawQuery: "x=1"}, want: "-", status: 404},
	})
}

func TestMatchBody(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("op-create", "/rpc", methods("POST"), body("$.op", exact("create"))),
		rt("kind-admin", "/rpc", methods("POST"), body("$.user.kind", exact("admin"))),
		rt("n-42", "/rpc", methods("POST"), body("$.n", exact("42"))),
		rt("flag", "/rpc", methods("POST"), body("$.flag", exact("true"))),
		rt("re", "/rpc", methods("POST"), body("$.name", regex(`ab+`))),
		rt("has-obj", "/rpc", methods("POST"), body("$.obj", present(true))),
	}
	runMatchCases(t, []matchCase{
		{name: "string field", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"x":[1,{"op":"no"}],"op":"create"}`)}, want: "op-create"},
		{name: "nested field", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(` { "user" : { "id": 1, "kind" : "admin" } } `)}, want: "kind-admin"},
		{name: "number compared as text", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"n":42}`)}, want: "n-42"},
		{name: "number text differs", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"n":42.0}`)}, want: "-", status: 404},
		{name: "string 42 is text 42", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"n":"42"}`)}, want: "n-42"},
		{name: "bool", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"flag":true}`)}, want: "flag"},
		{name: "escaped string decoded", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"op":"cre\u0061te"}`)}, want: "op-create"},
		{name: "escaped key decoded", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"\u006fp":"create"}`)}, want: "op-create"},
		{name: "regex", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"name":"abbb"}`)}, want: "re"},
		{name: "object present", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"obj":{"a":[1,2,{"b":"}"}]}}`)}, want: "has-obj"},
		{name: "object is not a string", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"op":{"create":1}}`)}, want: "-", status: 404},
		{name: "key in nested object is not top-level", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"a":{"op":"create"}}`)}, want: "-", status: 404},
		{name: "duplicate key never matches", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"op":"create","op":"delete"}`)}, want: "-", status: 404},
		{name: "duplicate key via escape", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"op":"create","\u006fp":"delete"}`)}, want: "-", status: 404},
		{name: "invalid json", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`{"op":"create"`)}, want: "-", status: 404},
		{name: "no body", routes: table, req: Request{Method: "POST", Path: "/rpc"}, want: "-", status: 404},
		{name: "array body", routes: table, req: Request{Method: "POST", Path: "/rpc", Body: []byte(`[{"op":"create"}]`)}, want: "-", status: 404},
		{name: "absent on missing body fails", routes: []*config.Route{rt("absent", "/", body("$.a", present(false)))}, req: Request{Path: "/"}, want: "-", status: 404},
		{name: "absent on valid body", routes: []*config.Route{rt("absent", "/", body("$.a", present(false)))}, req: Request{Path: "/", Body: []byte(`{"b":1}`)}, want: "absent"},
	})
}

func TestMatchListeners(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("internal", "/x", listeners("admin"), methods("GET")),
		rt("public", "/y", listeners("web", "web2")),
	}
	runMatchCases(t, []matchCase{
		{name: "listed listener", routes: table, req: Request{Path: "/x", Listener: "admin"}, want: "internal"},
		{name: "other listener is not a candidate", routes: table, req: Request{Method: "POST", Path: "/x", Listener: "web"}, want: "-", status: 404},
		{name: "second listener", routes: table, req: Request{Path: "/y", Listener: "web2"}, want: "public"},
		{name: "empty listener skips the check", routes: table, req: Request{Path: "/y"}, want: "public"},
	})
}

func TestMatchNilAndReuse(t *testing.T) {
	t.Parallel()
	var nilRouter *Router
	res := Result{Route: 3, Status: 200, Allow: "x", Params: Params{N: 2, Tail: "t"}}
	nilRouter.Match(&Request{Path: "/"}, &res)
	if res.Route != -1 || res.Status != 404 || res.Allow != "" || res.Params.N != 0 || res.Params.Tail != "" {
		t.Fatalf("nil Router Match() = %+v, want reset 404", res)
	}
	r := mustCompile(t, []*config.Route{rt("p", "/a/{x}/*"), rt("q", "/b", methods("GET"))})
	r.Match(&Request{Method: "GET", Path: "/a/1/z"}, &res)
	r.Match(&Request{Method: "PUT", Path: "/b"}, &res)
	if res.Status != 405 || res.Params.N != 0 || res.Params.Tail != "" {
		t.Fatalf("reused Result after 405 = %+v, want no params", res)
	}
	r.Match(&Request{Method: "GET", Path: "/b"}, &res)
	if res.Allow != "" || res.Status != 0 {
		t.Fatalf("reused Result after match = %+v, want Allow cleared", res)
	}
}
