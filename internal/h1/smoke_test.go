package h1

import "testing"

func TestSmoke(t *testing.T) {
	up := newUpstream(t, nil)
	_, addr, _ := proxyTo(t, nil, up.addr())
	c := dialRaw(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n")
	resp, body := c.response("GET")
	if resp.StatusCode != 200 || body != "hello /a" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	c.send("GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n")
	resp, body = c.response("GET")
	if resp.StatusCode != 200 || body != "hello /b" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	t.Logf("%v", resp.Header)
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("upstream conns = %d, want 1", n)
	}
}
