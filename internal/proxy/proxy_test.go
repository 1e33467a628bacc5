package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

func TestForwardHeaders(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "a"})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, nil)

	// Hand-written so the client library adds or removes nothing.
	res := rawRequest(t, hostOf(g.URL), "GET /echo HTTP/1.1\r\n"+
		"Host: shop.example.com\r\n"+
		"Connection: keep-alive, X-Secret, X-Forwarded-For, X-Request-Id\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"+
		"TE: trailers, deflate\r\n"+
		"Upgrade: something\r\n"+
		"X-Secret: s3cret\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\n"+
		"X-Request-Id: client-id\r\n"+
		"X-Kept: yes\r\n\r\n")
	b, _ := io.ReadAll(res.Body)
	e := decodeEcho(t, b)
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Upgrade", "X-Secret", "Transfer-Encoding"} {
		if v, ok := e.Headers[k]; ok {
			t.Errorf("backend saw %s = %q, want it removed", k, v)
		}
	}
	want := map[string]string{
		"Te":                "trailers",
		"X-Kept":            "yes",
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "shop.example.com",
		"Forwarded":         "for=127.0.0.1;host=shop.example.com;proto=http",
		"Via":               "1.1 gantry",
		"X-Request-Id":      "req-test-1",
	}
	for k, v := range want {
		if got := e.Headers.Get(k); got != v {
			t.Errorf("backend saw %s = %q, want %q", k, got, v)
		}
	}
	if e.Host != "shop.example.com" {
		t.Errorf("backend Host = %q, want the client's shop.example.com", e.Host)
	}
	if ua, ok := e.Headers["User-Agent"]; ok {
		t.Errorf("backend saw User-Agent %q, want none (the client sent none)", ua)
	}
}

func TestResponseHopByHop(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Internal")
		w.Header().Set("X-Internal", "10.1.2.3")
		w.Header().Set("Keep-Alive", "timeout=9")
		w.Header().Set("X-Public", "ok")
		_, _ = io.WriteString(w, "hi")
	})})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, nil)
	res, _ := get(t, client(t), g.URL+"/", nil)
	if v := res.Header.Get("X-Internal"); v != "" {
		t.Errorf("client saw X-Internal = %q, want it removed (named in Connection)", v)
	}
	if v := res.Header.Get("Keep-Alive"); v != "" {
		t.Errorf("client saw Keep-Alive = %q, want it removed", v)
	}
	if v := res.Header.Get("X-Public"); v != "ok" {
		t.Errorf("client saw X-Public = %q, want ok", v)
	}
}

func TestHostAndPath(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	tests := []struct {
		name                         string
		path                         string
		outPath, outHost             string
		wantPath, wantRaw, wantQuery string
		wantHost                     string
	}{
		{name: "encoded slash kept", path: "/a%2Fb/c?x=1%2B2&y", wantPath: "/a/b/c", wantRaw: "/a%2Fb/c", wantQuery: "x=1%2B2&y", wantHost: "client.example"},
		{name: "rewritten path keeps encoding", path: "/api/a%2Fb?q=1", outPath: "/v2/a%2Fb", wantPath: "/v2/a/b", wantRaw: "/v2/a%2Fb", wantQuery: "q=1", wantHost: "client.example"},
		{name: "plain rewrite and host override", path: "/api/x", outPath: "/x", outHost: "internal.svc", wantPath: "/x", wantHost: "internal.svc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, func(r *http.Request, ex *Exchange) {
				ex.OutPath, ex.OutHost = tc.outPath, tc.outHost
			})
			req, _ := http.NewRequest(http.MethodGet, g.URL+tc.path, nil)
			req.Host = "client.example"
			_, b := do(t, client(t), req)
			e := decodeEcho(t, b)
			if e.Path != tc.wantPath || e.RawPath != tc.wantRaw || e.RawQuery != tc.wantQuery {
				t.Errorf("backend path, raw, query = %q, %q, %q; want %q, %q, %q", e.Path, e.RawPath, e.RawQuery, tc.wantPath, tc.wantRaw, tc.wantQuery)
			}
			if e.Host != tc.wantHost {
				t.Errorf("backend Host = %q, want %q", e.Host, tc.wantHost)
			}
		})
	}
}

func TestSSEStreamsBeforeEnd(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}, RequestTimeout: time.Minute}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/sse?n=2&hold=1", nil)
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The backend holds the stream open after event 2, so seeing it proves the proxy
	// flushed instead of buffering until the end.
	deadline := time.After(10 * time.Second)
	for want := 1; want <= 2; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before event %d", want)
			}
			if l == "data: event "+strconv.Itoa(want) {
				want++
			}
		case <-deadline:
			t.Fatalf("event %d did not arrive while the stream was open", want)
		}
	}
}

func TestTrailers(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, nil)
	res, b := get(t, client(t), g.URL+"/trailers", nil)
	if string(b) != "body with trailers\n" {
		t.Errorf("body = %q", b)
	}
	for k, want := range map[string]string{"X-Declared": "declared-value", "X-Undeclared": "undeclared-value"} {
		if got := res.Trailer.Get(k); got != want {
			t.Errorf("trailer %s = %q, want %q (trailers %v)", k, got, want, res.Trailer)
		}
	}
}

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}, RequestTimeout: 50 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.URL, "http")+"/ws", &websocket.DialOptions{HTTPClient: client(t)})
	if err != nil {
		t.Fatalf("dial through proxy: %v", err)
	}
	defer c.CloseNow()
	for i := range 3 {
		if i == 1 {
			// Longer than RequestTimeout: an upgraded connection is not cut by it.
			time.Sleep(100 * time.Millisecond)
		}
		msg := "hello " + strconv.Itoa(i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write: %v", err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(got) != msg {
			t.Fatalf("echo = %q, want %q", got, msg)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
	ex := g.exchange(t)
	if ex.Status != http.StatusSwitchingProtocols || ex.BytesOut == 0 {
		t.Errorf("exchange status, bytes = %d, %d; want 101, > 0", ex.Status, ex.BytesOut)
	}
}

func TestLargeBodiesStream(t *testing.T) {
	// Not parallel: it reads process-wide allocation counters.
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, nil)
	c := client(t)
	const size = 32 << 20
	want := sha256.New()
	_, _ = io.Copy(want, testbackend.PatternReader(size))
	wantSum := hex.EncodeToString(want.Sum(nil))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	req, _ := http.NewRequest(http.MethodPut, g.URL+"/upload", testbackend.PatternReader(size))
	req.ContentLength = -1 // chunked: nothing may rely on a length
	_, b := do(t, c, req)
	e := decodeEcho(t, b)
	if e.BodyLength != size || e.BodySHA256 != wantSum {
		t.Errorf("upload seen by backend = %d bytes %s, want %d bytes %s", e.BodyLength, e.BodySHA256, size, wantSum)
	}

	res, err := c.Get(g.URL + "/download?size=" + strconv.Itoa(size))
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, res.Body)
	res.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download = %d bytes, err %v; want %d", n, err, size)
	}
	if sum := hex.EncodeToString(got.Sum(nil)); sum != wantSum || res.Trailer.Get("X-Body-Sha256") != wantSum {
		t.Errorf("download sha = %s (trailer %s), want %s", sum, res.Trailer.Get("X-Body-Sha256"), wantSum)
	}
	runtime.ReadMemStats(&after)
	// 64 MiB crossed the proxy; buffering either body would allocate at least 32 MiB.
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Errorf("allocated %d MiB while moving 64 MiB, want < 16 MiB (bodies must stream)", d>>20)
	}
}

func TestClientCancelReachesBackend(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/hang?who=me", nil)
		res, err := client(t).Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for be.Requests() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("backend never got the request")
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, bounded by the deadline
	}
	cancel()
	select {
	case uri := <-be.Canceled():
		if uri != "/hang?who=me" {
			t.Errorf("canceled request = %q, want /hang?who=me", uri)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not see the cancellation")
	}
	if err := <-errc; err == nil {
		t.Error("client request succeeded, want a cancellation error")
	}
	if ex := g.exchange(t); ex.Status != 499 || ex.Reason != "client_closed" {
		t.Errorf("exchange = %d %q, want 499 client_closed", ex.Status, ex.Reason)
	}
}

func TestH2CAndTLSTargets(t *testing.T) {
	t.Parallel()
	h2c := testbackend.StartH2C(t, testbackend.HTTPOptions{Name: "h2c"})
	tlsBE := testbackend.StartTLS(t, testbackend.HTTPOptions{Name: "tls"})
	tests := []struct {
		name string
		url  string
		tr   TransportOptions
	}{
		{name: "h2c", url: "h2c://" + h2c.Addr, tr: TransportOptions{H2C: true}},
		{name: "https negotiates h2", url: tlsBE.URL, tr: TransportOptions{TLSConfig: tlsBE.ClientTLS()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := NewTransport(tc.tr)
			t.Cleanup(tr.CloseIdleConnections)
			g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, tc.url)}}, Transport: tr}, nil)
			res, b := get(t, client(t), g.URL+"/x", nil)
			if res.StatusCode != 200 {
				t.Fatalf("status = %d, body %s", res.StatusCode, b)
			}
			if e := decodeEcho(t, b); e.Proto != "HTTP/2.0" {
				t.Errorf("backend proto = %q, want HTTP/2.0", e.Proto)
			}
		})
	}
}

func TestStickyCookie(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	tg := target(t, be.URL)
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{tg}}, StickyCookie: "gantry_sticky"}, nil)
	c := client(t)
	res, _ := get(t, c, g.URL+"/", nil)
	want := "gantry_sticky=" + StickyValue(tg.URL) + "; Path=/; HttpOnly; SameSite=Lax"
	if got := res.Header.Get("Set-Cookie"); got != want {
		t.Fatalf("Set-Cookie = %q, want %q", got, want)
	}
	if strings.Contains(res.Header.Get("Set-Cookie"), be.Addr) {
		t.Error("sticky cookie reveals the target address")
	}
	res, _ = get(t, c, g.URL+"/", map[string]string{"Cookie": "a=b; gantry_sticky=" + StickyValue(tg.URL)})
	if got := res.Header.Get("Set-Cookie"); got != "" {
		t.Errorf("Set-Cookie = %q for a client already pinned to the target, want none", got)
	}
}

func TestProblemAnswers(t *testing.T) {
	t.Parallel()
	slow := testbackend.StartHTTP(t, testbackend.HTTPOptions{Delay: 5 * time.Second})
	hang := testbackend.StartHTTP(t, testbackend.HTTPOptions{})
	garbage := startGarbage(t)
	dead := deadURL(t)

	breaker := NewBreaker(BreakerOptions{MaxRequests: 1})
	breakerGW := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, hang.URL)}}, Breaker: breaker}, nil)
	holdCtx, release := context.WithCancel(context.Background())
	// Not defer: the parallel subtests run after this function returns. Registered after
	// breakerGW so it runs before the server's Close, which waits for the held request.
	t.Cleanup(release)
	go func() { // occupies the breaker's only slot until release
		req, _ := http.NewRequestWithContext(holdCtx, http.MethodGet, breakerGW.URL+"/hang", nil)
		if res, err := client(t).Do(req); err == nil {
			res.Body.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for breaker.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling a counter, bounded by the deadline
	}

	tests := []struct {
		name       string
		gw         *gw
		path       string
		wantStatus int
		wantReason string
	}{
		{name: "refused port", gw: startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, dead)}}}, nil), wantStatus: 502, wantReason: "upstream_connect_failed"},
		{name: "unresolvable host", gw: startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, "http://no-such-host.invalid:80")}}}, nil), wantStatus: 502, wantReason: "upstream_connect_failed"},
		{name: "slow backend", gw: startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, slow.URL)}}, ResponseHeaderTimeout: 100 * time.Millisecond}, nil), wantStatus: 504, wantReason: "upstream_timeout"},
		{name: "request timeout", gw: startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, slow.URL)}}, RequestTimeout: 100 * time.Millisecond}, nil), wantStatus: 504, wantReason: "upstream_timeout"},
		{name: "no target", gw: startProxy(t, Options{Picker: &ordered{}}, nil), wantStatus: 503, wantReason: "no_healthy_target"},
		{name: "breaker full", gw: breakerGW, path: "/x", wantStatus: 503, wantReason: "circuit_open"},
		{name: "malformed response", gw: startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{target(t, garbage)}}}, nil), wantStatus: 502, wantReason: "upstream_bad_response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, b := get(t, client(t), tc.gw.URL+"/x", nil)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", res.StatusCode, tc.wantStatus, b)
			}
			var p map[string]any
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatalf("body %q is not problem JSON: %v", b, err)
			}
			if p["reason"] != tc.wantReason || p["request_id"] != "req-test-1" {
				t.Errorf("problem = %v, want reason %s and request_id req-test-1", p, tc.wantReason)
			}
			if got := res.Header.Get("X-Request-Id"); got != "req-test-1" {
				t.Errorf("X-Request-Id = %q, want req-test-1", got)
			}
			for _, leak := range []string{"127.0.0.1", "no-such-host", "dial", "tcp", "context", "EOF", "malformed"} {
				if bytes.Contains(b, []byte(leak)) {
					t.Errorf("problem body %s leaks %q", b, leak)
				}
			}
		})
	}
}

// startGarbage serves a TCP listener that answers every connection with a non-HTTP line.
func startGarbage(t *testing.T) string {
	t.Helper()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 two hundred OK\r\nbroken\r\n\r\n")
		_ = brw.Flush()
	})})
	return be.URL
}
