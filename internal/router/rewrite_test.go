package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

func TestRewrite(t *testing.T) {
	t.Parallel()
	table := []*config.Route{
		rt("strip", "/api/*", strip("/api")),
		rt("strip-slash", "/v2/*", strip("/v2/")),
		rt("strip-root", "/root/*", strip("/")),
		rt("tmpl", "/users/{id}/orders/{order}", template("/v2/orders/{order}?user={id}")),
		rt("tmpl-tail", "/static/{ver}/*", template("/assets/{*}/{ver}.v")),
		rt("tmpl-fixed", "/old", template("/new")),
		rt("none", "/none/*"),
	}
	r := mustCompile(t, table)
	cases := []struct {
		name string
		path string
		want string
	}{
		{name: "strip below prefix", path: "/api/x/y", want: "/x/y"},
		{name: "strip bare prefix", path: "/api", want: "/"},
		{name: "strip prefix with slash", path: "/api/", want: "/"},
		{name: "strip trailing slash in config", path: "/v2/a", want: "/a"},
		{name: "strip root is a no-op", path: "/root/a", want: "/root/a"},
		{name: "template params", path: "/users/7/orders/9", want: "/v2/orders/9?user=7"},
		{name: "template tail", path: "/static/3/css/a.css", want: "/assets/css/a.css/3.v"},
		{name: "template empty tail", path: "/static/3", want: "/assets//3.v"},
		{name: "template without params", path: "/old", want: "/new"},
		{name: "no rewrite", path: "/none/x", want: "/none/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var res Result
			r.Match(&Request{Method: "GET", Path: tc.path}, &res)
			if res.Status != 0 {
				t.Fatalf("Match(%s) status = %d, want a match", tc.path, res.Status)
			}
			if got := r.Rewrite(res.Route, tc.path, &res.Params); got != tc.want {
				t.Errorf("Rewrite(%s, %s) = %q, want %q", routeName(r, res.Route), tc.path, got, tc.want)
			}
		})
	}
	t.Run("strip is segment-aware", func(t *testing.T) {
		t.Parallel()
		for path, want := range map[string]string{"/apix": "/apix", "/api": "/", "/api/x": "/x", "/ap": "/ap", "/": "/"} {
			if got := stripPrefix(path, "/api"); got != want {
				t.Errorf("stripPrefix(%q, /api) = %q, want %q", path, got, want)
			}
		}
	})
	t.Run("out of range and nil params", func(t *testing.T) {
		t.Parallel()
		if got := r.Rewrite(-1, "/a", nil); got != "/a" {
			t.Errorf("Rewrite(-1) = %q, want /a", got)
		}
		if got := r.Rewrite(99, "/a", nil); got != "/a" {
			t.Errorf("Rewrite(99) = %q, want /a", got)
		}
		if got := r.Rewrite(3, "/users/1/orders/2", nil); got != "/v2/orders/?user=" {
			t.Errorf("Rewrite(tmpl, nil params) = %q, want /v2/orders/?user=", got)
		}
	})
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		route *config.Route
		want  error
	}{
		{name: "bad path regex", route: rt("a", "~/x(", nil...), want: ErrRegex},
		{name: "bad header regex", route: rt("a", "/", headers("X", regex("("))), want: ErrRegex},
		{name: "bad query regex", route: rt("a", "/", query("q", regex("[a-"))), want: ErrRegex},
		{name: "bad body regex", route: rt("a", "/", body("$.a", regex("*"))), want: ErrRegex},
		{name: "path and regex", route: func() *config.Route { r := rt("a", "/x"); r.Match.PathRegex = "/y"; return r }(), want: ErrPattern},
		{name: "relative path", route: rt("a", "x/y"), want: ErrPattern},
		{name: "tail not last", route: rt("a", "/a/*/b"), want: ErrPattern},
		{name: "mixed segment", route: rt("a", "/a/{id}.json"), want: ErrPattern},
		{name: "bad param name", route: rt("a", "/a/{i-d}"), want: ErrPattern},
		{name: "duplicate param", route: rt("a", "/a/{id}/{id}"), want: ErrPattern},
		{name: "too many params", route: rt("a", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"), want: ErrPattern},
		{name: "dot segment in pattern", route: rt("a", "/a/../b"), want: ErrPattern},
		{name: "double slash in pattern", route: rt("a", "/a//b"), want: ErrPattern},
		{name: "encoded unreserved in pattern", route: rt("a", "/%7Euser"), want: ErrPattern},
		{name: "bad wildcard host", route: rt("a", "/", hosts("a.*.com")), want: ErrHost},
		{name: "bare wildcard suffix", route: rt("a", "/", hosts("*..com")), want: ErrHost},
		{name: "empty host", route: rt("a", "/", hosts("")), want: ErrHost},
		{name: "value match with two kinds", route: rt("a", "/", headers("X", config.ValueMatch{Regex: "a", Exact: new(string)})), want: ErrCondition},
		{name: "value match with none", route: rt("a", "/", query("q", config.ValueMatch{})), want: ErrCondition},
		{name: "bad body path", route: rt("a", "/", body("a.b", exact("1"))), want: ErrCondition},
		{name: "body path with index", route: rt("a", "/", body("$.a[0]", exact("1"))), want: ErrCondition},
		{name: "bad method", route: rt("a", "/", methods("GE T")), want: ErrCondition},
		{name: "rewrite unknown param", route: rt("a", "/x/{id}", template("/y/{name}")), want: ErrRewrite},
		{name: "rewrite tail without tail", route: rt("a", "/x/{id}", template("/y/{*}")), want: ErrRewrite},
		{name: "rewrite params on regex route", route: rt("a", "~/x/.*", template("/y/{id}")), want: ErrRewrite},
		{name: "rewrite unclosed brace", route: rt("a", "/x/{id}", template("/y/{id")), want: ErrRewrite},
		{name: "rewrite stray brace", route: rt("a", "/x/{id}", template("/y/id}")), want: ErrRewrite},
		{name: "rewrite both", route: func() *config.Route {
			r := rt("a", "/x/*")
			r.Rewrite = &config.Rewrite{StripPrefix: "/x", Path: "/y"}
			return r
		}(), want: ErrRewrite},
		{name: "rewrite relative strip", route: rt("a", "/x/*", strip("x")), want: ErrRewrite},
		{name: "nil route", route: nil, want: ErrCondition},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := Compile([]*config.Route{rt("ok", "/ok"), tc.route})
			if !errorsIs(err, tc.want) || r != nil {
				t.Fatalf("Compile() = %v, %v, want nil, %v", r, err, tc.want)
			}
		})
	}
}
