package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// h2cClient is a real HTTP/2 client speaking h2c with prior knowledge.
func h2cClient() *http.Client { return testbackend.H2CClient() }

// countTransportDials makes the upstream's http.Transport count its dials, so a test
// can tell whether a request went through it or through the engine's pool.
func countTransportDials(t *testing.T, g *Gateway, upstream string) *atomic.Int64 {
	t.Helper()
	u := g.snap.Load().upstreams[upstream]
	if u == nil || u.transport == nil {
		t.Fatalf("upstream %q has no transport", upstream)
	}
	var n atomic.Int64
	dial := u.transport.DialContext // set before any request, so no race with a user
	u.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return dial(ctx, network, addr)
	}
	return &n
}

// TestH2ThroughEngine: h2c requests on a route the HTTP/1.1 engine serves reach a real
// HTTP/1.1 backend through the engine's pool (never http.Transport), with the
// forwarding headers, bodies, streamed and chunked responses and trailers intact;
// gRPC keeps the net/http proxy.
func TestH2ThroughEngine(t *testing.T) {
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "be"})
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  app: { targets: [%q] }
routes:
  - { name: all, upstream: app }
`, be.URL)))
	dials := countTransportDials(t, g, "app")
	gw := g.Addr("web").String()
	c := h2cClient()

	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // past the replay buffer: streamed
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	tests := []struct {
		name   string
		method string
		target string
		body   []byte
		length bool // send Content-Length (else the body has no declared length)
		header map[string]string
		// wantTransport is true when the request must take the net/http proxy.
		wantTransport bool
	}{
		{name: "get with query", method: "GET", target: "/a/b?x=1&y=2"},
		{name: "small post", method: "POST", target: "/p", body: []byte(`{"k":"v"}`), length: true},
		{name: "large post", method: "PUT", target: "/p", body: big, length: true},
		{name: "post without length", method: "POST", target: "/p", body: big[:5000]},
		{name: "empty post", method: "POST", target: "/p", body: nil, length: true},
		{name: "spoofed forwarding fields", method: "GET", target: "/s",
			header: map[string]string{"X-Forwarded-For": "10.9.9.9", "Forwarded": "for=10.9.9.9", "X-Forwarded-Host": "evil", "X-Custom": "kept"}},
		{name: "grpc keeps net/http proxy", method: "POST", target: "/svc.S/M", body: []byte{0, 0, 0, 0, 0}, length: true,
			header: map[string]string{"Content-Type": "application/grpc"}, wantTransport: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = http.NoBody
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
				if !tc.length {
					body = io.MultiReader(body) // hides the length: the client sends none
				}
			}
			req, err := http.NewRequest(tc.method, "http://"+gw+tc.target, body)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.length {
				req.ContentLength = -1
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			before := dials.Load()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
				t.Fatalf("%s %s = %d over %s, want 200 over HTTP/2 (%s)", tc.method, tc.target, resp.StatusCode, resp.Proto, raw)
			}
			if got := dials.Load() > before; got != tc.wantTransport {
				t.Fatalf("went through http.Transport = %v, want %v", got, tc.wantTransport)
			}
			if tc.wantTransport {
				return // the net/http proxy's own tests cover the rest
			}
			var e testbackend.Echo
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("echo: %v (%s)", err, raw)
			}
			if e.Method != tc.method || e.Path+"?"+e.RawQuery != tc.target && e.Path != tc.target {
				t.Fatalf("backend saw %s %s?%s, want %s %s", e.Method, e.Path, e.RawQuery, tc.method, tc.target)
			}
			if e.Proto != "HTTP/1.1" || e.Host != gw {
				t.Fatalf("backend saw %s Host %q, want HTTP/1.1 Host %q", e.Proto, e.Host, gw)
			}
			if e.BodyLength != int64(len(tc.body)) || e.BodySHA256 != sum(tc.body) {
				t.Fatalf("backend body = %d bytes %s, want %d bytes %s", e.BodyLength, e.BodySHA256, len(tc.body), sum(tc.body))
			}
			want := map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  gw,
				"Forwarded":         `for=127.0.0.1;host="` + gw + `";proto=http`,
				"Via":               "2 gantry",
				"X-Request-Id":      resp.Header.Get("X-Request-Id"),
			}
			if tc.header["X-Custom"] != "" {
				want["X-Custom"] = "kept"
			}
			for k, v := range want {
				if got := strings.Join(e.Headers.Values(k), ", "); got != v || v == "" {
					t.Errorf("backend header %s = %q, want %q", k, got, v)
				}
			}
		})
	}

	t.Run("chunked response with trailer", func(t *testing.T) {
		before := dials.Load()
		resp, err := c.Get("http://" + gw + "/big?size=100000")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != 100000 {
			t.Fatalf("body = %d bytes, %v; want 100000", n, err)
		}
		if got, want := resp.Trailer.Get("X-Body-Sha256"), hex.EncodeToString(h.Sum(nil)); got != want {
			t.Fatalf("trailer X-Body-Sha256 = %q, want %q", got, want)
		}
		if dials.Load() != before {
			t.Fatalf("went through http.Transport, want the engine")
		}
	})
	t.Run("event stream", func(t *testing.T) {
		resp, err := c.Get("http://" + gw + "/sse?n=3")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var events []string
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "data: ") {
				events = append(events, l)
			}
		}
		if want := []string{"data: event 1", "data: event 2", "data: event 3"}; strings.Join(events, "|") != strings.Join(want, "|") {
			t.Fatalf("events = %q, want %q", events, want)
		}
	})
}

// TestH2ThroughEngineErrors: failures on the engine path answer like the net/http
// path (problem+json with the request ID), and a response the upstream cuts short is
// an aborted stream, never a short body that looks complete.
func TestH2ThroughEngineErrors(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	cut := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "cut", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, "only this")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})})
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  dead: { targets: ["http://%s"] }
  cut: { targets: [%q] }
routes:
  - { name: dead, upstream: dead, match: { path: "/dead/*" } }
  - { name: cut, upstream: cut, match: { path: "/cut/*" } }
`, deadAddr, cut.URL)))
	c := h2cClient()
	gw := g.Addr("web").String()

	t.Run("dead backend", func(t *testing.T) {
		resp, err := c.Get("http://" + gw + "/dead/x")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET = %d %q, want 502 application/problem+json (%s)", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		var p struct {
			Status    int    `json:"status"`
			Reason    string `json:"reason"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("problem: %v (%s)", err, raw)
		}
		if p.Status != 502 || p.Reason != "upstream_connect_failed" || p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") {
			t.Fatalf("problem = %+v (X-Request-Id %q), want 502 upstream_connect_failed with the request ID", p, resp.Header.Get("X-Request-Id"))
		}
	})
	t.Run("upstream cuts the body", func(t *testing.T) {
		// The stream is reset either before the head left the gateway's buffer or
		// after it; either way the client must see an error, never a short body.
		resp, err := c.Get("http://" + gw + "/cut/x")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatalf("GET of a cut response: err = nil, want a stream error")
		}
	})
}
