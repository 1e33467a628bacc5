package gateway

import (
	"fmt"
	"net/http"
	"testing"
)

// TestHashKeySameOnEveryPath: a consistent_hash key is read the same way whichever
// path serves the request (the HTTP/1.1 engine, net/http, HTTP/2 through the engine),
// with query text unescaped and cookie quotes removed, so one client sticks to one
// target across listeners and protocols.
func TestHashKeySameOnEveryPath(t *testing.T) {
	b1, b2, b3, b4 := backend(t, "b1"), backend(t, "b2"), backend(t, "b3"), backend(t, "b4")
	targets := fmt.Sprintf(`["http://%s", "http://%s", "http://%s", "http://%s"]`, hostport(b1), hostport(b2), hostport(b3), hostport(b4))
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  fast: { address: "127.0.0.1:0" }
  std: { address: "127.0.0.1:0", engine: standard }
upstreams:
  byq: { balance: consistent_hash, hash_key: "query:tenant", targets: %[1]s }
  byc: { balance: consistent_hash, hash_key: "cookie:tenant", targets: %[1]s }
routes:
  - { name: q, match: { path: "/q/*" }, upstream: byq }
  - { name: c, match: { path: "/c/*" }, upstream: byc }
`, targets)))
	h2c := h2cClient()
	clients := []struct {
		name string
		c    *http.Client
		addr string
	}{
		{name: "engine", c: http.DefaultClient, addr: g.Addr("fast").String()},
		{name: "net/http", c: http.DefaultClient, addr: g.Addr("std").String()},
		{name: "h2 via engine", c: h2c, addr: g.Addr("fast").String()},
	}
	seen := map[string]bool{}
	for i := range 12 {
		tenant := fmt.Sprintf("team %d", i)
		forms := []struct{ path, cookie string }{
			{path: fmt.Sprintf("/q/x?tenant=team%%20%d", i)},
			{path: fmt.Sprintf("/q/x?tenant=team+%d", i)},
			{path: "/c/x", cookie: fmt.Sprintf(`tenant="%s"`, tenant)},
			{path: "/c/x", cookie: "tenant=" + tenant},
		}
		want := ""
		for _, f := range forms {
			for _, cl := range clients {
				req, _ := http.NewRequest(http.MethodGet, "http://"+cl.addr+f.path, nil)
				if f.cookie != "" {
					req.Header.Set("Cookie", f.cookie)
				}
				resp, err := cl.c.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", cl.name, f.path, err)
				}
				resp.Body.Close()
				got := resp.Header.Get("X-Backend")
				if want == "" {
					want = got
				}
				if got != want {
					t.Fatalf("tenant %q via %s (%s, cookie %q) went to %s, want %s like its other forms", tenant, cl.name, f.path, f.cookie, got, want)
				}
			}
		}
		seen[want] = true
	}
	if len(seen) < 2 {
		t.Fatalf("12 tenants all hashed to %v, want them spread over the targets", seen)
	}
}
