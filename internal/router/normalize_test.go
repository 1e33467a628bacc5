package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want string // "" with ok false
		ok   bool
	}{
		// Already clean: returned as is.
		{name: "root", in: "/", want: "/", ok: true},
		{name: "plain", in: "/a/b", want: "/a/b", ok: true},
		{name: "trailing slash kept", in: "/a/b/", want: "/a/b/", ok: true},
		{name: "dots inside names", in: "/a.b/...c/d..", want: "/a.b/...c/d..", ok: true},
		{name: "triple dot is a name", in: "/a/.../b", want: "/a/.../b", ok: true},
		{name: "reserved escapes kept", in: "/a%3Fb%23c%25", want: "/a%3Fb%23c%25", ok: true},
		{name: "utf-8 bytes kept", in: "/caf\xc3\xa9", want: "/caf\xc3\xa9", ok: true},
		{name: "semicolon in a name", in: "/a;b/c;d=1", want: "/a;b/c;d=1", ok: true},

		// Dot-segments (RFC 3986 section 5.2.4).
		{name: "dotdot", in: "/a/../b", want: "/b", ok: true},
		{name: "public dotdot admin", in: "/public/../admin", want: "/admin", ok: true},
		{name: "dot", in: "/a/./b", want: "/a/b", ok: true},
		{name: "leading dot", in: "/./a", want: "/a", ok: true},
		{name: "trailing dot", in: "/a/.", want: "/a/", ok: true},
		{name: "trailing dotdot", in: "/a/b/..", want: "/a/", ok: true},
		{name: "trailing dotdot to root", in: "/a/..", want: "/", ok: true},
		{name: "dot then slash", in: "/a/./", want: "/a/", ok: true},
		{name: "many dotdots", in: "/a/b/c/../../d", want: "/a/d", ok: true},
		{name: "dotdot after collapse", in: "/a//../b", want: "/b", ok: true},
		{name: "only dot", in: "/.", want: "/", ok: true},

		// Duplicate slashes.
		{name: "double leading slash", in: "//admin", want: "/admin", ok: true},
		{name: "inner double slash", in: "/a//b", want: "/a/b", ok: true},
		{name: "many slashes", in: "////a///b////", want: "/a/b/", ok: true},
		{name: "only slashes", in: "///", want: "/", ok: true},

		// Percent-encoding.
		{name: "encoded dotdot", in: "/a/%2e%2e/b", want: "/b", ok: true},
		{name: "encoded dotdot upper", in: "/a/%2E%2E/admin", want: "/admin", ok: true},
		{name: "half encoded dotdot", in: "/a/.%2e/b", want: "/b", ok: true},
		{name: "encoded dot", in: "/a/%2e/b", want: "/a/b", ok: true},
		{name: "encoded unreserved decoded", in: "/%7Euser/%61%62%2D%5F", want: "/~user/ab-_", ok: true},
		{name: "double encoding decoded once", in: "/%2561", want: "/%2561", ok: true},
		{name: "double encoded dotdot stays data", in: "/a/%252e%252e/b", want: "/a/%252e%252e/b", ok: true},
		{name: "lower-case hex upper-cased", in: "/a%3fb", want: "/a%3Fb", ok: true},
		{name: "encoded slash kept", in: "/a%2Fb", want: "/a%2Fb", ok: true},
		{name: "encoded slash lower kept upper", in: "/a%2f..%2fadmin", want: "/a%2F..%2Fadmin", ok: true},
		{name: "encoded backslash kept", in: "/a%5c..%5cadmin", want: "/a%5C..%5Cadmin", ok: true},
		{name: "encoded space kept", in: "/a%20b", want: "/a%20b", ok: true},

		// Rejected.
		{name: "empty", in: ""},
		{name: "relative", in: "a/b"},
		{name: "absolute-form", in: "http://x/a"},
		{name: "asterisk-form", in: "*"},
		{name: "escapes root", in: "/../a"},
		{name: "escapes root later", in: "/a/../../b"},
		{name: "escapes root encoded", in: "/%2e%2e/etc/passwd"},
		{name: "escapes root at end", in: "/.."},
		{name: "raw NUL", in: "/a\x00b"},
		{name: "encoded NUL", in: "/a%00b"},
		{name: "raw newline", in: "/a\nb"},
		{name: "raw tab", in: "/a\tb"},
		{name: "raw DEL", in: "/a\x7fb"},
		{name: "truncated escape", in: "/a%2"},
		{name: "truncated escape at end", in: "/a%"},
		{name: "bad hex", in: "/a%zz"},
		{name: "bad hex second", in: "/a%4g"},
		{name: "dotdot with params", in: "/public/..;/admin"},
		{name: "dot with params", in: "/a/.;x/b"},
		{name: "encoded dotdot with params", in: "/public/%2e%2e;jsessionid=1/admin"},
		{name: "dotdot params at end", in: "/a/..;"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := NormalizePath(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizePath(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			if ok {
				again, ok2 := NormalizePath(got)
				if again != got || !ok2 {
					t.Errorf("NormalizePath(%q) = %q, %v, want idempotent", got, again, ok2)
				}
			}
		})
	}
}

func TestNormalizePathWith(t *testing.T) {
	t.Parallel()
	decode := NormalizeOptions{DecodeSlashes: true}
	reject := NormalizeOptions{RejectEncodedSlashes: true}
	both := NormalizeOptions{DecodeSlashes: true, RejectEncodedSlashes: true}
	noBackslash := NormalizeOptions{RejectBackslashes: true}
	cases := []struct {
		name string
		opts NormalizeOptions
		in   string
		want string
		ok   bool
	}{
		{name: "decode slash", opts: decode, in: "/a%2Fb", want: "/a/b", ok: true},
		{name: "decoded slash takes part in dot removal", opts: decode, in: "/public%2F..%2Fadmin", want: "/admin", ok: true},
		{name: "decoded slashes collapse", opts: decode, in: "/a%2F%2Fb", want: "/a/b", ok: true},
		{name: "decoded slash escaping root", opts: decode, in: "/%2F..%2F..%2Fx"},
		{name: "decode backslash is data", opts: decode, in: "/a%5Cb", want: "/a\\b", ok: true},
		{name: "decode leaves clean path", opts: decode, in: "/a/b", want: "/a/b", ok: true},
		{name: "reject slash", opts: reject, in: "/a%2Fb"},
		{name: "reject lower-case slash", opts: reject, in: "/a%2fb"},
		{name: "reject backslash", opts: reject, in: "/a%5Cb"},
		{name: "reject leaves clean path", opts: reject, in: "/a/b", want: "/a/b", ok: true},
		{name: "reject wins over decode", opts: both, in: "/a%2Fb"},
		{name: "raw backslash is data by default", in: "/a\\..\\admin", want: "/a\\..\\admin", ok: true},
		{name: "reject raw backslash", opts: noBackslash, in: "/a\\..\\admin"},
		{name: "reject encoded backslash", opts: noBackslash, in: "/a%5cb"},
		{name: "reject backslash leaves slash escapes", opts: noBackslash, in: "/a%2fb", want: "/a%2Fb", ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := NormalizePathWith(tc.in, tc.opts)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizePathWith(%q, %+v) = %q, %v, want %q, %v", tc.in, tc.opts, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestNormalizeThenRoute is the security property end to end: however a path to the
// admin route is spelled, it reaches the admin route (and so its policies), never the
// public one.
func TestNormalizeThenRoute(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, []*config.Route{rt("admin", "/admin/*"), rt("public", "/public/*")})
	for _, in := range []string{
		"/public/../admin", "/public/%2e%2e/admin", "/public/%2E%2E/admin/", "//admin", "/./admin",
		"/public/./../admin/x", "/public//..//admin", "/%61dmin", "/public/.%2e/admin",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			p, ok := NormalizePath(in)
			if !ok {
				t.Fatalf("NormalizePath(%q) rejected, want a path", in)
			}
			var res Result
			r.Match(&Request{Method: "GET", Path: p}, &res)
			if got := routeName(r, res.Route); got != "admin" {
				t.Errorf("Match(NormalizePath(%q) = %q) = %s, want admin", in, p, got)
			}
		})
	}
}
