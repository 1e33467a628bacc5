package balancer

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    string
		want    Key
		wantErr bool
	}{
		{name: "header", spec: "header:X-User", want: Key{Kind: KeyHeader, Name: "X-User"}},
		{name: "cookie", spec: "cookie:session", want: Key{Kind: KeyCookie, Name: "session"}},
		{name: "query", spec: "query:tenant", want: Key{Kind: KeyQuery, Name: "tenant"}},
		{name: "ip", spec: "ip", want: Key{Kind: KeyIP}},
		{name: "path", spec: "path", want: Key{Kind: KeyPath}},
		{name: "spaces trimmed", spec: " header: X-User ", want: Key{Kind: KeyHeader, Name: "X-User"}},
		{name: "header without name", spec: "header:", wantErr: true},
		{name: "header bare", spec: "header", wantErr: true},
		{name: "ip with name", spec: "ip:x", wantErr: true},
		{name: "unknown kind", spec: "body:x", wantErr: true},
		{name: "empty", spec: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tc.spec)
			if tc.wantErr {
				if !errors.Is(err, ErrBadKey) {
					t.Fatalf("ParseKey(%q) = %v, %v; want ErrBadKey", tc.spec, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseKey(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
			if back, _ := ParseKey(got.String()); back != got {
				t.Fatalf("ParseKey(%q.String()) = %+v, want %+v", tc.spec, back, got)
			}
		})
	}
}

func TestKeyValue(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("X-User", "u-42")
	h.Set("Cookie", `theme=dark; session="s-9"`)
	client := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		spec string
		want string
	}{
		{spec: "header:x-user", want: "u-42"},
		{spec: "cookie:session", want: "s-9"}, // quotes removed
		{spec: "cookie:theme", want: "dark"},
		{spec: "query:tenant", want: "a b"}, // unescaped: "a%20b" and "a b" are one key
		{spec: "query:x", want: "1"},
		{spec: "query:missing", want: ""},
		{spec: "ip", want: "192.0.2.1"},
		{spec: "path", want: "/users/7"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKey(tc.spec)
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tc.spec, err)
			}
			if got := k.Value(h, "tenant=a%20b&x=1", "/users/7", client); got != tc.want {
				t.Errorf("Value(%q) = %q, want %q", tc.spec, got, tc.want)
			}
		})
	}
	if got := (Key{Kind: KeyIP}).Value(h, "", "/", netip.Addr{}); got != "" {
		t.Errorf("Value(ip) without a client = %q, want empty", got)
	}
}

func TestQueryValue(t *testing.T) {
	t.Parallel()
	q := url.Values{"a b": {"1"}, "c": {"x&y"}}.Encode()
	if got := QueryValue(q, "a b"); got != "1" {
		t.Errorf("QueryValue(%q, a b) = %q, want 1", q, got)
	}
	if got := QueryValue(q, "c"); got != "x&y" {
		t.Errorf("QueryValue(%q, c) = %q, want x&y", q, got)
	}
	if got := QueryValue("t=%zz", "t"); got != "%zz" {
		t.Errorf("QueryValue(t=%%zz) = %q, want the raw value when it does not unescape", got)
	}
}

func TestKeyValueAllocs(t *testing.T) {
	h := http.Header{"X-User": {"u"}, "Cookie": {"s=1"}}
	for _, spec := range []string{"header:X-User", "cookie:s", "query:t", "path"} {
		k, _ := ParseKey(spec)
		if n := testing.AllocsPerRun(100, func() { _ = k.Value(h, "t=plain", "/p", netip.Addr{}) }); n != 0 {
			t.Errorf("Value(%s) allocs = %v, want 0", spec, n)
		}
	}
}
