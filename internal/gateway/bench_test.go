package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGateway proxies GET requests over one keep-alive client connection through a
// real gateway to a real loopback backend, per configuration. The numbers include the
// client and the backend (same process); compare variants with each other, not with
// other machines. Run: go test -run '^$' -bench Gateway -benchmem ./internal/gateway
func BenchmarkGateway(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "6")
		io.WriteString(w, "hello\n")
	}))
	defer be.Close()
	const key = "bench-key-0123456789abcdef"
	variants := []struct {
		name    string
		engine  string
		route   string
		observe string
		header  string
	}{
		{name: "fast/bare", engine: "fast"},
		{name: "standard/bare", engine: "standard"},
		{name: "fast/access-log", engine: "fast", observe: "observe: { access_log: { output: stderr } }"},
		{name: "fast/api-key", engine: "fast", route: "auth: { api_key: { header: X-Api-Key } }", header: "X-Api-Key: " + key + "\r\n"},
		{name: "fast/api-key+access-log", engine: "fast", route: "auth: { api_key: { header: X-Api-Key } }", header: "X-Api-Key: " + key + "\r\n",
			observe: "observe: { access_log: { output: stderr } }"},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			cfg := parse(b, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0", engine: %s }
upstreams:
  app: { targets: [%q] }
consumers:
  bench: { api_keys: [%q] }
routes:
  - { name: all, upstream: app, %s }
%s
`, v.engine, be.URL, key, v.route, v.observe))
			g, err := New(cfg, Options{Logger: quietLogger(), AccessLogWriter: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			g.Start()
			defer g.Shutdown(b.Context())
			c, err := net.Dial("tcp", g.Addr("web").String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := "GET /x HTTP/1.1\r\nHost: bench\r\n" + v.header + "\r\n"
			br := bufio.NewReader(c)
			roundTrip := func() {
				if _, err := io.WriteString(c, req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			for i := 0; i < 100; i++ { // warm pools
				roundTrip()
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				roundTrip()
			}
			// CPU per request of the whole process (client, gateway, backend): wall time
			// is mostly loopback latency on a busy box; the CPU difference between
			// variants is the feature's cost.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
