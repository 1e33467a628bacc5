package h1

import (
	"testing"
)

var testLimits = limits{maxHeaderBytes: DefaultMaxHeaderBytes, maxHeaderCount: DefaultMaxHeaderCount, maxURI: DefaultMaxURILength}

// parseAll parses a complete head in one go.
func parseAll(raw string) (*Request, int, int, error) {
	r := &Request{}
	st := headState{}
	end, status, err := parseRequestHead(r, []byte(raw), &st, &testLimits)
	return r, end, status, err
}

func TestParseRequestView(t *testing.T) {
	t.Parallel()
	raw := "\r\nPOST /a%2Fb/c?x=1&y=2 HTTP/1.1\r\nHost: API.Example.com:8443\r\nX-Multi: one\r\nContent-Length: 12\r\nx-multi:  two \r\nConnection: keep-alive\r\n\r\nbody"
	r, end, status, err := parseAll(raw)
	if status != 0 || end != len(raw)-4 {
		t.Fatalf("parseRequestHead = end %d status %d err %v, want end %d", end, status, err, len(raw)-4)
	}
	for _, c := range []struct{ name, got, want string }{
		{name: "Method", got: r.Method(), want: "POST"},
		{name: "Target", got: r.Target(), want: "/a%2Fb/c?x=1&y=2"},
		{name: "Path", got: r.Path(), want: "/a%2Fb/c"},
		{name: "RawQuery", got: r.RawQuery(), want: "x=1&y=2"},
		{name: "Host", got: r.Host(), want: "api.example.com"},
		{name: "Get", got: r.Get("x-MULTI"), want: "one"},
		{name: "Get_missing", got: r.Get("nope"), want: ""},
	} {
		if c.got != c.want {
			t.Errorf("%s() = %q, want %q", c.name, c.got, c.want)
		}
	}
	if v := r.Values("X-Multi"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Errorf("Values() = %q, want [one two]", v)
	}
	if r.ContentLength() != 12 || !r.KeepAlive() || r.ProtoMinor() != 1 || r.NumHeaders() != 5 {
		t.Errorf("ContentLength %d KeepAlive %v minor %d headers %d", r.ContentLength(), r.KeepAlive(), r.ProtoMinor(), r.NumHeaders())
	}
	if n, v := r.HeaderAt(3); string(n) != "x-multi" || string(v) != "two" {
		t.Errorf("HeaderAt(3) = %q %q", n, v)
	}
}

func TestParseRequestIncremental(t *testing.T) {
	t.Parallel()
	raw := "GET /x HTTP/1.0\r\nHost: [::1]:80\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
	// TE in HTTP/1.0 is rejected whichever way the bytes are split.
	for split := 1; split < len(raw); split++ {
		r := &Request{}
		st := headState{}
		end, status, _ := parseRequestHead(r, []byte(raw[:split]), &st, &testLimits)
		if status == 0 && end == 0 {
			end, status, _ = parseRequestHead(r, []byte(raw), &st, &testLimits)
		}
		if status != 400 {
			t.Fatalf("split %d: status %d end %d, want 400", split, status, end)
		}
	}
	r, _, status, _ := parseAll("GET /x HTTP/1.0\r\nHost: [::1]:80\r\nConnection: keep-alive\r\n\r\n")
	if status != 0 || r.Host() != "::1" || !r.KeepAlive() || r.ContentLength() != 0 {
		t.Errorf("status %d Host %q KeepAlive %v", status, r.Host(), r.KeepAlive())
	}
}
