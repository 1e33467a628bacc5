package router

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// Builders for []*config.Route; the YAML decoder is another package's job.

func exact(v string) config.ValueMatch { return config.ValueMatch{Exact: &v} }
func regex(v string) config.ValueMatch { return config.ValueMatch{Regex: v} }
func present(b bool) config.ValueMatch { return config.ValueMatch{Present: &b} }
func vm(kv ...any) map[string]config.ValueMatch {
	m := map[string]config.ValueMatch{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(config.ValueMatch)
	}
	return m
}

// rt builds a route: name, path (a path_regex when it starts with "~"), and options.
func rt(name, path string, opts ...func(*config.Route)) *config.Route {
	r := &config.Route{Name: name, Upstream: "u"}
	if len(path) > 0 && path[0] == '~' {
		r.Match.PathRegex = path[1:]
	} else {
		r.Match.Path = path
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func hosts(h ...string) func(*config.Route)   { return func(r *config.Route) { r.Match.Hosts = h } }
func methods(m ...string) func(*config.Route) { return func(r *config.Route) { r.Match.Methods = m } }
func headers(kv ...any) func(*config.Route) {
	return func(r *config.Route) { r.Match.Headers = vm(kv...) }
}
func query(kv ...any) func(*config.Route) { return func(r *config.Route) { r.Match.Query = vm(kv...) } }
func body(kv ...any) func(*config.Route)  { return func(r *config.Route) { r.Match.Body = vm(kv...) } }
func listeners(l ...string) func(*config.Route) {
	return func(r *config.Route) { r.Listeners = l }
}
func maxBody(n int64) func(*config.Route) {
	return func(r *config.Route) { r.Match.MaxBodyBytes = config.Size(n) }
}
func strip(p string) func(*config.Route) {
	return func(r *config.Route) { r.Rewrite = &config.Rewrite{StripPrefix: p} }
}
func template(p string) func(*config.Route) {
	return func(r *config.Route) { r.Rewrite = &config.Rewrite{Path: p} }
}

func mustCompile(t testing.TB, routes []*config.Route) *Router {
	t.Helper()
	r, err := Compile(routes)
	if err != nil {
		t.Fatalf("Compile() error = %v", err)
	}
	return r
}

// hdr builds an http.Header from name/value pairs (canonicalised as net/http does).
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// routeName names the result of Match for messages: "-" for none.
func routeName(r *Router, i int) string {
	if rt := r.Route(i); rt != nil {
		return rt.Name
	}
	return "-"
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
