package proxy

import (
	"net/http"
	"net/netip"
	"reflect"
	"testing"
)

func TestRemoveHopByHop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     http.Header
		want   http.Header
		wantTE bool
	}{
		{
			name: "standard hop-by-hop fields",
			in: http.Header{
				"Connection": {"keep-alive"}, "Proxy-Connection": {"keep-alive"}, "Keep-Alive": {"timeout=5"},
				"Proxy-Authenticate": {"Basic"}, "Proxy-Authorization": {"Basic x"}, "Te": {"gzip"},
				"Trailer": {"X-T"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"}, "Accept": {"*/*"},
			},
			want: http.Header{"Accept": {"*/*"}},
		},
		{
			name: "headers named in Connection, any case, several lines",
			in: http.Header{
				"Connection": {"X-Secret,  x-other", "close , X-Forwarded-For"},
				"X-Secret":   {"1"}, "X-Other": {"2"}, "X-Forwarded-For": {"6.6.6.6"}, "X-Kept": {"3"},
			},
			want: http.Header{"X-Kept": {"3"}},
		},
		{
			name:   "TE trailers survives as a flag",
			in:     http.Header{"Te": {"gzip, Trailers"}},
			want:   http.Header{},
			wantTE: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			te := removeHopByHop(tc.in)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("removeHopByHop() left %v, want %v", tc.in, tc.want)
			}
			if te != tc.wantTE {
				t.Errorf("removeHopByHop() te = %v, want %v", te, tc.wantTE)
			}
		})
	}
}

func TestRewriteRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     http.Header
		remote string
		ip     netip.Addr
		trust  bool
		proto  string
		host   string
		want   map[string]string // header → value ("" means absent)
	}{
		{
			name: "untrusted chain is replaced", in: http.Header{"X-Forwarded-For": {"1.2.3.4"}, "Forwarded": {"for=1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil"}},
			remote: "10.0.0.7:5555", proto: "http", host: "api.example.com",
			want: map[string]string{
				"X-Forwarded-For": "10.0.0.7", "Forwarded": "for=10.0.0.7;host=api.example.com;proto=http",
				"X-Forwarded-Proto": "http", "X-Forwarded-Host": "api.example.com", "Via": "1.1 gantry", "X-Request-Id": "rid",
			},
		},
		{
			name: "trusted chain is appended", in: http.Header{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8"}, "Forwarded": {"for=1.2.3.4"}, "X-Forwarded-Proto": {"https"}, "Via": {"1.0 edge"}},
			remote: "10.0.0.7:5555", trust: true, proto: "http", host: "h:8080",
			want: map[string]string{
				"X-Forwarded-For": "1.2.3.4, 5.6.7.8, 10.0.0.7", "Forwarded": `for=1.2.3.4, for=10.0.0.7;host="h:8080";proto=http`,
				"X-Forwarded-Proto": "https", "Via": "1.0 edge, 1.1 gantry",
			},
		},
		{
			name: "IPv6 client is bracketed and quoted", in: http.Header{},
			remote: "[2001:db8::1]:443", proto: "https", host: "x",
			want: map[string]string{"X-Forwarded-For": "2001:db8::1", "Forwarded": `for="[2001:db8::1]";host=x;proto=https`},
		},
		{
			name: "resolved client IP differs from the peer", in: http.Header{},
			remote: "10.0.0.7:5555", ip: netip.MustParseAddr("203.0.113.9"), proto: "http", host: "x",
			want: map[string]string{"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9;host=x;proto=http"},
		},
		{
			name: "Connection cannot remove the gateway's own headers", in: http.Header{"Connection": {"X-Forwarded-For, X-Request-Id, Forwarded, Via"}, "X-Request-Id": {"client"}},
			remote: "10.0.0.7:5555", proto: "http", host: "x",
			want: map[string]string{"X-Forwarded-For": "10.0.0.7", "X-Request-Id": "rid", "Via": "1.1 gantry", "Connection": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s scratch
			ip, v6 := clientAddr(tc.remote, tc.ip, &s)
			f := forwarding{clientIP: ip, v6: v6, proto: tc.proto, host: tc.host, via: via11, reqID: "rid", trust: tc.trust}
			rewriteRequest(tc.in, &f, &s)
			for k, want := range tc.want {
				if got := tc.in.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func BenchmarkRewriteRequest(b *testing.B) {
	template := http.Header{
		"Accept":          {"application/json"},
		"User-Agent":      {"bench"},
		"Connection":      {"keep-alive, X-Hop"},
		"X-Hop":           {"1"},
		"Keep-Alive":      {"timeout=5"},
		"Te":              {"trailers"},
		"X-Forwarded-For": {"198.51.100.1"},
		"Forwarded":       {"for=198.51.100.1"},
		"Via":             {"1.1 edge"},
	}
	h := make(http.Header, 32)
	var s scratch
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		for k, v := range template {
			h[k] = v
		}
		s.reset()
		ip, v6 := clientAddr("192.0.2.10:41234", netip.Addr{}, &s)
		f := forwarding{clientIP: ip, v6: v6, proto: "https", host: "api.example.com", via: via11, reqID: "0123456789abcdef", trust: true}
		rewriteRequest(h, &f, &s)
	}
}
