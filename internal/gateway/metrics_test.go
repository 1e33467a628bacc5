package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// TestMetricsAfterKnownTraffic sends known traffic through both engines (plain GETs on
// the HTTP/1.1 engine, JSON-body-routed POSTs through its net/http fallback, 404s,
// 401s and a dead upstream) and checks the exact counters per route and status class.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "be"})
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  app: { targets: [%q] }
  gone: { targets: ["http://127.0.0.1:1"], retries: { attempts: 0 } }
consumers:
  alice: { api_keys: ["key-alice-0123456789"] }
routes:
  - { name: rpc, match: { path: /rpc, methods: [POST], body: { $.op: ping } }, upstream: app }
  - { name: private, match: { path: "/private/*" }, upstream: app, auth: { api_key: { header: X-Api-Key } } }
  - { name: dead, match: { path: "/dead/*" }, upstream: gone }
  - { name: pages, match: { path: "/pages/*", methods: [GET] }, upstream: app }
`, be.URL)))
	base := "http://" + g.Addr("web").String()
	do := func(method, path, body string, n int) {
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	do("GET", "/pages/a", "", 7)           // fast path, 2xx
	do("POST", "/rpc", `{"op":"ping"}`, 3) // fallback (body match), 2xx
	do("GET", "/private/x", "", 2)         // 401 from the auth policy
	do("GET", "/dead/x", "", 4)            // 502, connection refused
	do("GET", "/nowhere", "", 5)           // 404, no route
	do("DELETE", "/pages/a", "", 1)        // 405

	reg := g.Metrics().Registry()
	want := `
# HELP gantry_http_requests_total HTTP requests answered, by route, method, status class and upstream.
# TYPE gantry_http_requests_total counter
gantry_http_requests_total{code_class="4xx",method="DELETE",route="",upstream=""} 1
gantry_http_requests_total{code_class="4xx",method="GET",route="",upstream=""} 5
gantry_http_requests_total{code_class="2xx",method="GET",route="pages",upstream="app"} 7
gantry_http_requests_total{code_class="2xx",method="POST",route="rpc",upstream="app"} 3
gantry_http_requests_total{code_class="4xx",method="GET",route="private",upstream="app"} 2
gantry_http_requests_total{code_class="5xx",method="GET",route="dead",upstream="gone"} 4
`
	if err := testutil.GatherAndCompare(reg, bytes.NewBufferString(want), "gantry_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	// Every answered request is in exactly one duration histogram observation.
	var observed uint64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "gantry_http_request_duration_seconds" {
			for _, m := range mf.GetMetric() {
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if observed != 7+3+2+4+5+1 {
		t.Fatalf("duration histograms hold %d observations, want %d", observed, 7+3+2+4+5+1)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metrics lint: %v %v", problems, err)
	}
}
