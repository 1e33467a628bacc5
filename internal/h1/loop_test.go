//go:build linux

package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/netpoll"
)

// events records what a Server's readiness loop did (Server.trace).
type events struct {
	mu  sync.Mutex
	evs map[string]int
}

func (e *events) add(ev string) {
	e.mu.Lock()
	e.evs[ev]++
	e.mu.Unlock()
}

func (e *events) count(ev string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.evs[ev]
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprint(e.evs)
}

// loopProxy is proxyTo with the loop's events recorded; it skips where there is no loop.
func loopProxy(t *testing.T, route func(*Request, *Decision), addrs ...string) (string, *events) {
	t.Helper()
	ev := &events{evs: map[string]int{}}
	_, addr, _ := proxyWith(t, route, ev.record(t), addrs...)
	return addr, ev
}

// record is an engine hook that records the loop's events in e; it skips the test
// where there is no loop.
func (e *events) record(t *testing.T) func(*Server) {
	return func(s *Server) {
		if !s.loop {
			t.Skip("no readiness loop for HTTP/1.1 here")
		}
		s.trace = e.add
	}
}

func TestLoopServesKeepAlive(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	addr, ev := loopProxy(t, nil, up.addr())
	c := dialRaw(t, addr)
	const n = 20
	for i := range n {
		// A long header takes the loop past the small idle buffer on every request.
		c.send(fmt.Sprintf("GET /k%d HTTP/1.1\r\nHost: a\r\nX-Pad: %s\r\n\r\n", i, strings.Repeat("p", 600)))
		resp, body := c.response("GET")
		if want := fmt.Sprintf("hello /k%d", i); resp.StatusCode != 200 || body != want || resp.Header.Get("X-Upstream") != "1" {
			t.Fatalf("request %d = %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
	// The first request is the goroutine's; the loop takes the rest.
	if got := ev.count("answered"); got != n-1 {
		t.Errorf("loop answered %d requests, want %d (events %v)", got, n-1, ev)
	}
	// Sent at the end of the poller's batch; the first loop request may be read by the
	// goroutine that entered the loop, which sends at once.
	if got := ev.count("deferred"); got < n-2 {
		t.Errorf("loop deferred %d upstream sends, want at least %d (events %v)", got, n-2, ev)
	}
	if r, _ := up.lastRequest(); r == nil || len(r.Header.Get("X-Pad")) != 600 || r.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("upstream saw %v, want the client's fields and X-Forwarded-For", r)
	}
}

// TestLoopHandovers: every exchange the loop does not finish itself goes to the
// goroutine code at the right point, and the client cannot tell.
func TestLoopHandovers(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	for _, tc := range []struct {
		name string
		// send writes the second request; want is its body ("" skips the check).
		send    func(c *rawConn)
		method  string
		status  int
		want    string
		ev      string
		handler http.HandlerFunc
		route   func(*Request, *Decision)
	}{
		{name: "large_body", send: get("/big"), status: 200, want: string(big), ev: "handover:sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/big" {
					w.Header().Set("Content-Length", fmt.Sprint(len(big)))
					_, _ = w.Write(big)
					return
				}
				_, _ = io.WriteString(w, "warm")
			}},
		{name: "chunked", send: get("/chunked"), status: 200, want: "onetwo", ev: "handover:sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/chunked" {
					_, _ = io.WriteString(w, "warm")
					return
				}
				_, _ = io.WriteString(w, "one")
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, "two")
			}},
		{name: "interim", send: get("/early"), status: 200, want: "after hints", ev: "handover:sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/early" {
					w.Header().Set("Link", "</a.css>; rel=preload")
					w.WriteHeader(103)
				}
				_, _ = io.WriteString(w, "after hints")
			}},
		{name: "answer", send: get("/answer"), status: 203, want: "answered", ev: "handover:routed",
			route: func(req *Request, d *Decision) {
				if req.Path() == "/answer" {
					d.Kind, d.Status, d.Body = Answer, 203, []byte("answered")
				}
			}},
		{name: "post_body", method: "POST", status: 200, want: "hello /post", ev: "handover:boundary",
			send: func(c *rawConn) { c.send("POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc") }},
		{name: "pipelined", status: 200, want: "hello /p2", ev: "handover:boundary",
			send: func(c *rawConn) {
				c.send("GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: a\r\n\r\n")
				if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "hello /p1" {
					c.t.Errorf("pipelined first = %d %q", resp.StatusCode, body)
				}
			}},
		{name: "head_in_pieces", status: 200, want: "hello /pieces", ev: "handover:boundary",
			send: func(c *rawConn) {
				c.send("GET /pieces HTTP/1.1\r\n")
				// The pause makes the head arrive in two reads; it synchronises nothing.
				time.Sleep(50 * time.Millisecond)
				c.send("Host: a\r\n\r\n")
			}},
		{name: "retry_status", send: get("/retry"), status: 200, want: "second try", ev: "handover:sent",
			route: func(req *Request, d *Decision) {
				d.Retry = Retry{Attempts: 2, OnStatus: []int{503}}
			},
			handler: retryOnce()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, tc.handler)
			addr, ev := loopProxy(t, tc.route, up.addr(), up.addr())
			c := dialRaw(t, addr)
			c.send("GET /warm HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, _ := c.response("GET"); resp.StatusCode != 200 {
				t.Fatalf("first request = %d, want 200", resp.StatusCode)
			}
			tc.send(c)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp, body := c.response(method)
			for resp.StatusCode < 200 { // an interim response passed on
				resp, body = c.response(method)
			}
			if resp.StatusCode != tc.status || tc.want != "" && body != tc.want {
				t.Fatalf("= %d %q (%d bytes), want %d %q", resp.StatusCode, trim(body), len(body), tc.status, trim(tc.want))
			}
			if ev.count(tc.ev) == 0 {
				t.Errorf("events %v, want %s", ev, tc.ev)
			}
			// Back in the loop for the next one.
			before := ev.count("answered")
			c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
			if resp, _ := c.response("GET"); resp.StatusCode != 200 {
				t.Fatalf("after the handover = %d, want 200", resp.StatusCode)
			}
			if ev.count("answered") != before+1 {
				t.Errorf("the request after the handover was not the loop's (events %v)", ev)
			}
		})
	}
}

func get(path string) func(c *rawConn) {
	return func(c *rawConn) { c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n") }
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// retryOnce answers /retry with a 503 the first time and "second try" after.
func retryOnce() http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/retry" {
			_, _ = io.WriteString(w, "warm")
			return
		}
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.WriteHeader(503)
			return
		}
		_, _ = io.WriteString(w, "second try")
	}
}

// TestLoopHalfCloseAfterRequest: a client that sends its request and half-closes at
// once gets its answer and then its connection closed, not left open until IdleTimeout
// (the end of stream arrives with the request's readiness).
func TestLoopHalfCloseAfterRequest(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	addr, ev := loopProxy(t, nil, up.addr())
	for i := range 5 {
		c := dialRaw(t, addr)
		c.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, _ := c.response("GET"); resp.StatusCode != 200 {
			t.Fatalf("first request = %d", resp.StatusCode)
		}
		c.send("GET /last HTTP/1.1\r\nHost: a\r\n\r\n")
		if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "hello /last" {
			t.Fatalf("conn %d: last request = %d %q", i, resp.StatusCode, body)
		}
		start := time.Now()
		if !c.closed() {
			t.Fatalf("conn %d: open 5 s after the half-closed client's last answer, want closed", i)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("conn %d: closed after %v, want at once", i, el)
		}
	}
	if ev.count("answered") < 5 {
		t.Errorf("events %v, want the loop to answer the last requests", ev)
	}
}

// TestLoopUpstreamClosedPooledConn: a pooled connection the upstream closed fails the
// loop's try; the goroutine retries it on a fresh connection.
func TestLoopUpstreamClosedPooledConn(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	addr, ev := loopProxy(t, nil, up.addr())
	c := dialRaw(t, addr)
	for i := range 4 {
		c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "hello /x" {
			t.Fatalf("request %d = %d %q, want 200", i, resp.StatusCode, body)
		}
		up.CloseClientConnections()
	}
	if ev.count("handover:sent") == 0 {
		t.Errorf("events %v, want the loop to hand failed tries over", ev)
	}
}

// TestLoopResponseHeaderTimeout: an upstream that goes silent gets a 504 at
// ResponseHeaderTimeout, from the loop's timer.
func TestLoopResponseHeaderTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	t.Cleanup(func() { close(release) }) // before the upstream's Close, which waits for it
	const rht = 300 * time.Millisecond
	addr, ev := loopProxy(t, func(req *Request, d *Decision) { d.ResponseHeaderTimeout = rht }, up.addr())
	c := dialRaw(t, addr)
	c.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("first request = %d", resp.StatusCode)
	}
	start := time.Now()
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, body := c.response("GET")
	el := time.Since(start)
	if resp.StatusCode != 504 {
		t.Fatalf("= %d %q, want 504", resp.StatusCode, body)
	}
	if el < rht || el > rht+2*time.Second {
		t.Errorf("504 after %v, want about %v", el, rht)
	}
	if ev.count("handover:sent") == 0 {
		t.Errorf("events %v, want the timeout handed over", ev)
	}
}

// TestLoopClientStopsReading: a response the client's socket does not take whole
// (small socket buffers on both sides, and the client not reading) is finished by a
// goroutine with the rest the loop could not send, and nothing is lost.
func TestLoopClientStopsReading(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("x"), 30000)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	})
	ev := &events{evs: map[string]int{}}
	h := &testHandler{picker: &listPicker{targets: []*balancer.Target{newTarget(up.addr())}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := engineOn(t, smallSendBuf{ln}, Options{Handler: h}, ev.record(t))
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := &rawConn{t: t, c: nc, br: bufio.NewReader(nc)}
	read := func(i int) {
		resp, got := c.response("GET")
		if resp.StatusCode != 200 || got != string(body) {
			t.Fatalf("response %d = %d, %d bytes, want 200 and %d bytes", i, resp.StatusCode, len(got), len(body))
		}
	}
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") // the goroutine's
	read(0)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") // the loop's, not read yet
	deadline := time.Now().Add(10 * time.Second)
	for ev.count("handover:finish") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polls a counter: there is no event to wait on
	}
	if ev.count("handover:finish") == 0 {
		t.Fatalf("events %v, want the partial write handed over", ev)
	}
	read(1)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	read(2)
}

// smallSendBuf shrinks the send buffer of every accepted connection, so a response of
// a few tens of kilobytes cannot leave in one call.
type smallSendBuf struct{ net.Listener }

func (l smallSendBuf) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	_ = c.(*net.TCPConn).SetWriteBuffer(4096)
	return c, nil
}

// TestLoopBatchedSends: many clients at once, so the pollers' rounds hold several
// upstream requests, which go out together (netpoll.Sender, io_uring where the kernel
// allows it). Every response must be its own request's, and the upstream must see each
// request exactly once: a send reported short would be written again by the goroutine
// code, and the duplicate's answer would reach the next exchange on that connection.
func TestLoopBatchedSends(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	addr, ev := loopProxy(t, nil, up.addr())
	const clients, rounds = 16, 30
	conns := make([]*rawConn, clients)
	for i := range conns {
		conns[i] = dialRaw(t, addr)
	}
	for r := range rounds {
		for i, c := range conns { // all requests of a round first, then the answers
			c.send(fmt.Sprintf("GET /c%d/r%d HTTP/1.1\r\nHost: a\r\n\r\n", i, r))
		}
		for i, c := range conns {
			resp, body := c.response("GET")
			if want := fmt.Sprintf("hello /c%d/r%d", i, r); resp.StatusCode != 200 || body != want {
				t.Fatalf("client %d round %d: %d %q, want 200 %q", i, r, resp.StatusCode, body, want)
			}
		}
	}
	if got := up.requests.Load(); got != clients*rounds {
		t.Errorf("upstream saw %d requests, want %d", got, clients*rounds)
	}
	if netpoll.SendsBatched() && ev.count("batched") == 0 {
		t.Errorf("no upstream send went out in a batch (events %v)", ev)
	}
}
