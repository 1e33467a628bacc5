package router

import (
	"path"
	"strings"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// FuzzNormalizePath checks the properties the router and every policy rely on; seeds
// are in testdata/fuzz/FuzzNormalizePath.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/a/%2e%2e/b", "//admin", "/a/./b", "/%2561", "/a/.", "/..;/x", "/a%2Fb"} {
		f.Add(s, false, false)
	}
	f.Fuzz(func(t *testing.T, in string, decode, reject bool) {
		opts := NormalizeOptions{DecodeSlashes: decode, RejectEncodedSlashes: reject, RejectBackslashes: decode && reject}
		out, ok := NormalizePathWith(in, opts)
		if !ok {
			if out != "" {
				t.Fatalf("NormalizePathWith(%q) = %q, false, want \"\" with false", in, out)
			}
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("NormalizePathWith(%q) = %q, want a leading /", in, out)
		}
		if again, ok2 := NormalizePathWith(out, opts); !ok2 || again != out {
			t.Fatalf("NormalizePathWith(%q) = %q, then %q, %v, want idempotent", in, out, again, ok2)
		}
		if strings.Contains(out, "//") {
			t.Fatalf("NormalizePathWith(%q) = %q, holds //", in, out)
		}
		for _, seg := range strings.Split(out[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("NormalizePathWith(%q) = %q, holds a dot-segment", in, out)
			}
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			if c < 0x20 || c == 0x7f {
				t.Fatalf("NormalizePathWith(%q) = %q, holds control byte %#x", in, out, c)
			}
			if c == '%' && (i+2 >= len(out) || isUnreserved(unhex(out[i+1])<<4|unhex(out[i+2]))) {
				t.Fatalf("NormalizePathWith(%q) = %q, holds a needless or broken escape", in, out)
			}
		}
		if (decode || reject) && (strings.Contains(out, "%2F") || strings.Contains(out, "%5C")) {
			t.Fatalf("NormalizePathWith(%q, %+v) = %q, still holds an encoded slash", in, opts, out)
		}
		if opts.RejectBackslashes && strings.Contains(out, "\\") {
			t.Fatalf("NormalizePathWith(%q, %+v) = %q, holds a backslash", in, opts, out)
		}
		// Without escapes and path params, the result is path.Clean's, up to the
		// trailing slash that path.Clean drops.
		if !strings.ContainsAny(in, "%;") {
			if want := path.Clean(in); strings.TrimSuffix(want, "/") != strings.TrimSuffix(out, "/") {
				t.Fatalf("NormalizePath(%q) = %q, path.Clean = %q", in, out, want)
			}
		}
	})
}

// fuzzRoutes is a table exercising every match kind, for FuzzMatch.
func fuzzRoutes() []*config.Route {
	return []*config.Route{
		rt("root", "/"),
		rt("health", "/health", hosts("api.example.com")),
		rt("users", "/users/{id}", methods("GET", "PURGE")),
		rt("orders", "/users/{id}/orders/{order}", hosts("*.example.com"), template("/o/{order}/{id}")),
		rt("api", "/api/*", strip("/api"), headers("X-Version", regex(`v[0-9]+`))),
		rt("api-v1", "/api/v1/*", query("debug", present(true)), template("/{*}")),
		rt("rpc", "/rpc", methods("POST"), body("$.op", exact("create"), "$.user.kind", present(true))),
		rt("re", `~/re/[0-9]+(/.*)?`, hosts("*.eu.example.com", "api.example.com")),
		rt("any", "", listeners("web"), methods("DELETE")),
	}
}

// FuzzMatch checks that Match never panics on any request and agrees with the oracle
// (the documented priority restated on Explain's per-route verdicts); seeds are in
// testdata/fuzz/FuzzMatch.
func FuzzMatch(f *testing.F) {
	routes := fuzzRoutes()
	r, err := Compile(routes)
	if err != nil {
		f.Fatalf("Compile() error = %v", err)
	}
	f.Add("GET", "api.example.com", "/users/1", "", "", []byte(nil))
	f.Add("POST", "x.eu.example.com", "/rpc", "debug", "v1", []byte(`{"op":"create","user":{"kind":1}}`))
	f.Fuzz(func(t *testing.T, method, host, p, rawQuery, version string, b []byte) {
		req := &Request{Method: method, Host: host, Path: p, RawQuery: rawQuery, Body: b, Header: hdr("X-Version", version), Listener: "web"}
		if msg := checkAgainstOracle(r, routes, req); msg != "" {
			t.Fatal(msg)
		}
		r.NeedsBody(req)
		var res Result
		r.Match(req, &res)
		_ = r.Rewrite(res.Route, req.Path, &res.Params)
	})
}
