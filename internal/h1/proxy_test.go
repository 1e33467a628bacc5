package h1

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// orderPicker picks the first untried target in order (deterministic retries).
type orderPicker struct{ targets []*balancer.Target }

func (p *orderPicker) Pick(info *balancer.Info) (*balancer.Target, error) {
	for _, t := range p.targets {
		tried := false
		for _, x := range info.Tried {
			tried = tried || x == t
		}
		if !tried {
			return t, nil
		}
	}
	return nil, balancer.ErrNoTarget
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}, Timeout: 20 * time.Second}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// hashing upstream: answers with the sha256 and length of the request body, or, for
// /big, an 8 MiB body whose hash is in a header.
func hashUpstream(t *testing.T, big []byte) *upstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("X-Sha", sha(big))
			_, _ = w.Write(big)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Len", strconv.Itoa(len(b)))
		w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
		_, _ = io.WriteString(w, sha(b))
	})
}

func TestForwardBodies(t *testing.T) {
	t.Parallel()
	big := make([]byte, 8<<20)
	rand.New(rand.NewSource(1)).Read(big)
	up := hashUpstream(t, big)
	_, addr, _ := proxyTo(t, nil, up.addr())
	cl := client()
	cases := []struct {
		name    string
		body    []byte
		chunked bool
	}{
		{name: "empty_get"},
		{name: "small_cl", body: []byte("hello")},
		{name: "small_chunked", body: []byte("hello"), chunked: true},
		{name: "large_cl", body: big},
		{name: "large_chunked", body: big, chunked: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			method := "GET"
			if tc.body != nil {
				method = "POST"
				body = bytes.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body) // hides the length: net/http sends chunked
				}
			}
			req, _ := http.NewRequest(method, "http://"+addr+"/echo", body)
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != sha(tc.body) {
				t.Fatalf("status %d body %q, want 200 %q", resp.StatusCode, got, sha(tc.body))
			}
			if n := resp.Header.Get("X-Len"); n != strconv.Itoa(len(tc.body)) {
				t.Errorf("upstream got %s bytes, want %d", n, len(tc.body))
			}
			if te := resp.Header.Get("X-TE"); (te == "chunked") != tc.chunked {
				t.Errorf("upstream Transfer-Encoding = %q, want chunked=%v", te, tc.chunked)
			}
		})
	}
	t.Run("large_response", func(t *testing.T) {
		resp, err := cl.Get("http://" + addr + "/big")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || sha(got) != resp.Header.Get("X-Sha") || len(got) != len(big) {
			t.Fatalf("big response: %d bytes err %v, sha match %v", len(got), err, sha(got) == resp.Header.Get("X-Sha"))
		}
	})
}

func TestKeepAliveReuse(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	_, addr, h := proxyTo(t, nil, up.addr())
	c := dialRaw(t, addr)
	for i := 0; i < 20; i++ {
		c.send(fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n", i))
		resp, body := c.response("GET")
		if resp.StatusCode != 200 || body != fmt.Sprintf("hello /r%d", i) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1", n)
	}
	r := <-h.done
	if r.Status != 200 || r.Tries != 1 || r.BytesOut != int64(len("hello /r0")) || r.Target == nil {
		t.Errorf("Result = %+v, want status 200, 1 try, %d bytes out", r, len("hello /r0"))
	}
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	_, addr, _ := proxyTo(t, nil, up.addr())
	c := dialRaw(t, addr)
	// Three requests in one write; the POST carries more bytes than its
	// Content-Length: the excess is the next request, parsed strictly.
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	for i, want := range []string{"hello /1", "hello /2", "hello /3", "hello /4"} {
		method := "GET"
		if i == 1 {
			method = "POST"
		}
		resp, body := c.response(method)
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("response %d = %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
	if !c.closed() {
		t.Error("connection open after Connection: close")
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.bodies) != 4 || up.bodies[1] != "abc" || up.seen[2].URL.Path != "/3" {
		t.Errorf("upstream saw %d requests, bodies %q", len(up.bodies), up.bodies)
	}
}

func TestExcessBodyIsNextRequest(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	_, addr, _ := proxyTo(t, nil, up.addr())
	c := dialRaw(t, addr)
	c.send("POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcXYZ garbage\r\n\r\n")
	if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "hello /1" {
		t.Fatalf("first = %d %q, want 200", resp.StatusCode, body)
	}
	if resp, _ := c.response("GET"); resp.StatusCode != 400 {
		t.Fatalf("excess = %d, want 400", resp.StatusCode)
	}
	if n := up.complete.Load(); n != 1 {
		t.Errorf("upstream completed %d requests, want 1", n)
	}
}

func TestUpstreamClosedIdleConn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		idle   time.Duration
	}{
		{name: "get_immediately", method: "GET"},
		{name: "post_after_idle", method: "POST", idle: 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, nil)
			_, addr, _ := proxyTo(t, nil, up.addr())
			c := dialRaw(t, addr)
			for i := 0; i < 2; i++ {
				c.send(tc.method + " /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
				if resp, body := c.response(tc.method); resp.StatusCode != 200 || body != "hello /x" {
					t.Fatalf("request %d = %d %q, want 200", i, resp.StatusCode, body)
				}
				up.CloseClientConnections()
				// The idle pause selects the code path (probe before reuse vs retry
				// after a failed reuse); it synchronises nothing.
				time.Sleep(tc.idle)
			}
			if n := up.complete.Load(); n != 2 {
				t.Errorf("upstream completed %d requests, want 2", n)
			}
		})
	}
}

func TestBodylessResponses(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "0123456789")
		}
	})
	_, addr, _ := proxyTo(t, nil, up.addr())
	c := dialRaw(t, addr)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{method: "HEAD", path: "/head", status: 200},
		{method: "GET", path: "/204", status: 204},
		{method: "GET", path: "/304", status: 304},
		{method: "GET", path: "/get", status: 200, body: "0123456789"},
	} {
		c.send(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, body := c.response(tc.method)
		if resp.StatusCode != tc.status || body != tc.body {
			t.Fatalf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if tc.method == "HEAD" && resp.ContentLength != 10 {
			t.Errorf("HEAD Content-Length = %d, want 10", resp.ContentLength)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1 (keep-alive survives bodyless responses)", n)
	}
}

func TestChunkedResponseWithTrailers(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "part1 ")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "part2")
		w.Header().Set("X-Checksum", "abc")
	})
	_, addr, _ := proxyTo(t, nil, up.addr())
	resp, err := client().Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "part1 part2" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailer %v, want %q and X-Checksum abc", body, resp.Trailer, "part1 part2")
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("TransferEncoding = %v, want chunked", resp.TransferEncoding)
	}
}

// rawUpstream answers every request on a connection with canned bytes, then closes.
func rawUpstream(t *testing.T, answer string) string {
	t.Helper()
	return testbackend.ServeConns(t, testbackend.Listen(t), func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
		}
		_, _ = io.WriteString(c, answer)
	})
}

func TestReadUntilCloseResponse(t *testing.T) {
	t.Parallel()
	ua := rawUpstream(t, "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nstreamed until close")
	_, addr, _ := proxyTo(t, nil, ua)
	t.Run("http11_rechunked", func(t *testing.T) {
		c := dialRaw(t, addr)
		for i := 0; i < 2; i++ { // the client connection survives
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, body := c.response("GET")
			if body != "streamed until close" || len(resp.TransferEncoding) == 0 || resp.Close {
				t.Fatalf("got %q TE %v close %v, want re-chunked keep-alive", body, resp.TransferEncoding, resp.Close)
			}
		}
	})
	t.Run("http10_closed", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send("GET / HTTP/1.0\r\n\r\n")
		resp, body := c.response("GET")
		if body != "streamed until close" || !resp.Close {
			t.Fatalf("got %q close %v, want body and close", body, resp.Close)
		}
		if !c.closed() {
			t.Error("connection open, want closed after a close-delimited body")
		}
	})
}

func TestBadUpstreamResponses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer string
		status int
	}{
		{name: "cl_and_te", answer: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 502},
		{name: "bare_lf", answer: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", status: 502},
		{name: "header_injection", answer: "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\nhi", status: 502},
		{name: "not_http", answer: "SSH-2.0-OpenSSH\r\n\r\n", status: 502},
		{name: "closed_before_head", answer: "", status: 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr, _ := proxyTo(t, nil, rawUpstream(t, tc.answer))
			c := dialRaw(t, addr)
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, _ := c.response("GET"); resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	t.Run("truncated_body_closes_client", func(t *testing.T) {
		t.Parallel()
		_, addr, _ := proxyTo(t, nil, rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))
		c := dialRaw(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("truncated body read without error, want unexpected EOF")
		}
	})
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // runs before slow.Close (cleanups run last-first)
	for _, tc := range []struct {
		name   string
		route  func(*Request, *Decision)
		target string
		status int
		reason string
	}{
		{name: "connect_refused_502", target: testbackend.RefusedAddr(t), status: 502, reason: "upstream_connect_failed"},
		{name: "no_target_503", route: func(_ *Request, d *Decision) { d.Picker = &orderPicker{} }, status: 503, reason: "no_healthy_target"},
		{name: "timeout_504", target: slow.addr(), route: func(_ *Request, d *Decision) { d.ResponseHeaderTimeout = 200 * time.Millisecond }, status: 504, reason: "upstream_timeout"},
		{name: "injection_500", target: slow.addr(), route: func(_ *Request, d *Decision) { d.Header.Set("X-Evil", "a\r\nInjected: 1") }, status: 500, reason: "internal_error"},
		{name: "response_injection_500", target: slow.addr(), route: func(_ *Request, d *Decision) { d.RespHeader.Set("X-Evil", "a\nInjected: 1") }, status: 500, reason: "internal_error"},
		{name: "bad_name_500", target: slow.addr(), route: func(_ *Request, d *Decision) { d.Header.Set("X Evil", "1") }, status: 500, reason: "internal_error"},
		{name: "answer_401", route: func(_ *Request, d *Decision) {
			d.Kind, d.Status, d.ContentType, d.Body = Answer, 401, "text/plain", []byte("no")
			d.RespHeader.Set("WWW-Authenticate", "Bearer")
		}, status: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.target == "" {
				tc.target = testbackend.RefusedAddr(t)
			}
			_, addr, h := proxyTo(t, tc.route, tc.target)
			c := dialRaw(t, addr)
			c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
			resp, body := c.response("POST")
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.reason != "" && !strings.Contains(body, `"reason":"`+tc.reason+`"`) {
				t.Errorf("body %q, want reason %s", body, tc.reason)
			}
			if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "dial") {
				t.Errorf("body %q leaks internal detail", body)
			}
			if r := <-h.done; r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("Result status %d reason %q, want %d %q", r.Status, r.Reason, tc.status, tc.reason)
			}
			// The body was consumed: the connection serves the next request.
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, _ := c.response("GET"); resp.StatusCode != tc.status {
				t.Errorf("second request status = %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	good := newUpstream(t, nil)
	busy := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	for _, tc := range []struct {
		name    string
		first   string
		method  string
		retry   Retry
		status  int
		tries   int
		goodReq int64
	}{
		{name: "connect_failure", first: testbackend.RefusedAddr(t), method: "POST", retry: Retry{Attempts: 2, OnConnect: true}, status: 200, tries: 2, goodReq: 1},
		{name: "connect_failure_no_retry", first: testbackend.RefusedAddr(t), method: "GET", retry: Retry{Attempts: 1, OnConnect: true}, status: 502, tries: 1},
		{name: "status_503", first: busy.addr(), method: "GET", retry: Retry{Attempts: 2, OnStatus: []int{503}}, status: 200, tries: 2, goodReq: 1},
		{name: "status_503_post_not_retried", first: busy.addr(), method: "POST", retry: Retry{Attempts: 2, OnStatus: []int{503}}, status: 503, tries: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := good.requests.Load()
			p := &orderPicker{targets: []*balancer.Target{newTarget(tc.first), newTarget(good.addr())}}
			h := &testHandler{picker: p, done: make(chan Result, 4), route: func(_ *Request, d *Decision) { d.Retry = tc.retry }}
			_, addr := engine(t, Options{Handler: h})
			c := dialRaw(t, addr)
			c.send(tc.method + " / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
			if resp, _ := c.response(tc.method); resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if r := <-h.done; r.Tries != tc.tries {
				t.Errorf("Tries = %d, want %d", r.Tries, tc.tries)
			}
			if n := good.requests.Load() - before; n != tc.goodReq {
				t.Errorf("second target got %d requests, want %d", n, tc.goodReq)
			}
		})
	}
}

func TestHeaderRewrite(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "drop me")
		w.Header().Set("Keep-Alive", "timeout=5")
		_, _ = io.WriteString(w, r.Method+" "+r.RequestURI+" "+r.Host)
	})
	for _, tc := range []struct {
		name   string
		route  func(*Request, *Decision)
		req    string
		target string
		check  func(t *testing.T, r *http.Request)
	}{
		{
			name:   "hop_by_hop_and_connection_listed",
			req:    "GET /p?q=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 1\r\nTE: trailers\r\nUpgrade: foo\r\nProxy-Authorization: x\r\nX-Keep: k\r\n\r\n",
			target: "GET /p?q=1 Example.COM:8080", // Host is forwarded as sent
			check: func(t *testing.T, r *http.Request) {
				for _, h := range []string{"X-Secret", "Keep-Alive", "Te", "Upgrade", "Proxy-Authorization", "Connection"} {
					if v := r.Header.Get(h); v != "" {
						t.Errorf("upstream got %s: %q, want it stripped", h, v)
					}
				}
				if r.Header.Get("X-Keep") != "k" || r.Header.Get("Via") != "1.1 gantry" {
					t.Errorf("X-Keep %q Via %q", r.Header.Get("X-Keep"), r.Header.Get("Via"))
				}
				if r.Header.Get("X-Forwarded-Host") != "Example.COM:8080" || r.Header.Get("X-Forwarded-Proto") != "http" {
					t.Errorf("X-Forwarded-Host %q Proto %q", r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"))
				}
			},
		},
		{
			name:   "xff_replaced_when_untrusted",
			req:    "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\n\r\n",
			target: "GET / a",
			check: func(t *testing.T, r *http.Request) {
				if v := r.Header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
					t.Errorf("X-Forwarded-For = %q, want [127.0.0.1]", v)
				}
				// The client's Forwarded element is dropped; only the gateway's own remains.
				if fw := r.Header.Values("Forwarded"); r.Header.Get("X-Forwarded-Proto") != "http" || len(fw) != 1 || fw[0] != `for=127.0.0.1;host="a";proto=http` {
					t.Errorf("X-Forwarded-Proto %q Forwarded %q, want http and only the gateway's element", r.Header.Get("X-Forwarded-Proto"), fw)
				}
			},
		},
		{
			name:   "xff_appended_when_trusted",
			route:  func(_ *Request, d *Decision) { d.TrustForwarded = true },
			req:    "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n",
			target: "GET / a",
			check: func(t *testing.T, r *http.Request) {
				if v := r.Header.Get("X-Forwarded-For"); v != "10.0.0.1, 127.0.0.1" {
					t.Errorf("X-Forwarded-For = %q, want chain appended", v)
				}
				if r.Header.Get("X-Forwarded-Proto") != "https" {
					t.Errorf("X-Forwarded-Proto = %q, want the trusted https", r.Header.Get("X-Forwarded-Proto"))
				}
			},
		},
		{
			name: "connection_cannot_strip_gateway_headers",
			route: func(_ *Request, d *Decision) {
				d.Header.Set("X-Consumer", "alice")
			},
			req:    "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-For, X-Consumer\r\nX-Consumer: mallory\r\n\r\n",
			target: "GET / a",
			check: func(t *testing.T, r *http.Request) {
				if v := r.Header.Values("X-Consumer"); len(v) != 1 || v[0] != "alice" {
					t.Errorf("X-Consumer = %q, want [alice]", v)
				}
				if r.Header.Get("X-Forwarded-For") != "127.0.0.1" {
					t.Errorf("X-Forwarded-For = %q, want 127.0.0.1", r.Header.Get("X-Forwarded-For"))
				}
			},
		},
		{
			name: "decision_rewrites",
			route: func(_ *Request, d *Decision) {
				d.Path, d.RawQuery, d.Host = "/v2/items", "a=b", "backend.internal"
				d.Header.Del("Authorization")
				d.Header.Add("X-Added", "1")
			},
			req:    "GET /api/items?x=y HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n\r\n",
			target: "GET /v2/items?a=b backend.internal",
			check: func(t *testing.T, r *http.Request) {
				if r.Header.Get("Authorization") != "" || r.Header.Get("X-Added") != "1" {
					t.Errorf("Authorization %q X-Added %q", r.Header.Get("Authorization"), r.Header.Get("X-Added"))
				}
			},
		},
		{
			name:   "absolute_form",
			req:    "GET http://Origin.example/p?q HTTP/1.1\r\nHost: ignored\r\n\r\n",
			target: "GET /p?q Origin.example",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr, _ := proxyTo(t, func(req *Request, d *Decision) {
				d.RespHeader.Set("X-Gateway", "1")
				if tc.route != nil {
					tc.route(req, d)
				}
			}, up.addr())
			c := dialRaw(t, addr)
			c.send(tc.req)
			resp, body := c.response("GET")
			if resp.StatusCode != 200 || body != tc.target {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, tc.target)
			}
			if resp.Header.Get("X-Hop") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Gateway") != "1" {
				t.Errorf("response headers %v: want X-Hop and Keep-Alive stripped, X-Gateway added", resp.Header)
			}
			if tc.check != nil {
				r, _ := up.lastRequest()
				tc.check(t, r)
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	_, addr, _ := proxyTo(t, nil, up.addr())
	c := dialRaw(t, addr)
	c.send("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q err %v, want 100 Continue", line, err)
	}
	if l, _ := c.br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("after 100: %q", l)
	}
	c.send("hello")
	if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "hello /e" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if _, b := up.lastRequest(); b != "hello" {
		t.Errorf("upstream body %q, want hello", b)
	}
	if r, _ := up.lastRequest(); r.Header.Get("Expect") != "" {
		t.Errorf("Expect forwarded upstream")
	}
}

func TestMaxRequestsPerConn(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	h := &testHandler{picker: &orderPicker{targets: []*balancer.Target{newTarget(up.addr())}}}
	_, addr := engine(t, Options{Handler: h, MaxRequestsPerConn: 2})
	c := dialRaw(t, addr)
	for i := 0; i < 2; i++ {
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, _ := c.response("GET")
		if resp.Close != (i == 1) {
			t.Errorf("request %d: Close = %v, want %v", i, resp.Close, i == 1)
		}
	}
	if !c.closed() {
		t.Error("connection open after MaxRequestsPerConn")
	}
}

func TestEarlyUpstreamResponse(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(413)
	})
	_, addr, _ := proxyTo(t, nil, up.addr())
	body := bytes.Repeat([]byte("x"), 4<<20)
	req, _ := http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(body))
	resp, err := client().Do(req)
	if err != nil {
		// The client may see a reset while still sending; what must not happen is a hang.
		t.Logf("client error (acceptable): %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 413 && resp.StatusCode != 502 {
		t.Fatalf("status = %d, want the upstream's 413 (or 502)", resp.StatusCode)
	}
}

func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	s, addr, _ := proxyTo(t, nil, up.addr())
	idle := dialRaw(t, addr)
	idle.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	idle.response("GET")

	active := dialRaw(t, addr)
	active.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if !idle.closed() {
		t.Fatal("idle connection not closed by Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an exchange in flight", err)
	default:
	}
	close(release)
	resp, body := active.response("GET")
	if body != "done" || !resp.Close {
		t.Errorf("in-flight response %q close %v, want done and Connection: close", body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}
