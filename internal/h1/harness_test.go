package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// listPicker picks round-robin over fixed targets, skipping tried ones.
type listPicker struct {
	targets []*balancer.Target
	n       atomic.Uint64
}

func (p *listPicker) Pick(info *balancer.Info) (*balancer.Target, error) {
	start := p.n.Add(1)
	for i := range p.targets {
		t := p.targets[(int(start)+i)%len(p.targets)]
		tried := false
		for _, x := range info.Tried {
			if x == t {
				tried = true
			}
		}
		if !tried {
			return t, nil
		}
	}
	return nil, balancer.ErrNoTarget
}

func newTarget(addr string) *balancer.Target {
	return &balancer.Target{URL: "http://" + addr, Scheme: "http", Addr: addr, Weight: 1, State: &balancer.State{}}
}

// testHandler forwards everything to picker unless route overrides the decision.
type testHandler struct {
	picker Picker
	route  func(req *Request, d *Decision)
	done   chan Result
}

func (h *testHandler) Route(req *Request, d *Decision) {
	d.Kind = Forward
	d.Picker = h.picker
	d.ResponseHeaderTimeout = 5 * time.Second
	if h.route != nil {
		h.route(req, d)
	}
}

func (h *testHandler) Done(req *Request, d *Decision, r *Result) {
	if h.done != nil {
		select {
		case h.done <- *r:
		default:
		}
	}
}

// upstream is a real net/http server that records what it saw.
type upstream struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64 // handler entered
	complete atomic.Int64 // request body read to its end without error
	mu       sync.Mutex
	seen     []*http.Request
	bodies   []string
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // a truncated request: not a request the backend could act on
		}
		u.complete.Add(1)
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.bodies = append(u.bodies, string(b))
		u.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("X-Upstream", "1")
		_, _ = io.WriteString(w, "hello "+r.URL.Path)
	}))
	u.Server.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) addr() string { return u.Listener.Addr().String() }

func (u *upstream) lastRequest() (*http.Request, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return nil, ""
	}
	return u.seen[len(u.seen)-1], u.bodies[len(u.bodies)-1]
}

// engine starts a Server on a loopback port with h and returns its address.
func engine(t testing.TB, o Options) (*Server, string) {
	t.Helper()
	return engineWith(t, o, nil)
}

// engineWith is engine with a hook that adjusts the Server before it serves.
func engineWith(t testing.TB, o Options, setup func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return engineOn(t, ln, o, setup)
}

// engineOn is engineWith serving ln (a wrapper of a loopback listener, say).
func engineOn(t testing.TB, ln net.Listener, o Options, setup func(*Server)) (*Server, string) {
	t.Helper()
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 2 * time.Second
	}
	s := NewServer(o)
	if setup != nil {
		setup(s)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	return s, ln.Addr().String()
}

// proxyTo starts an engine forwarding to the given upstream addresses.
func proxyTo(t *testing.T, route func(*Request, *Decision), addrs ...string) (*Server, string, *testHandler) {
	t.Helper()
	return proxyWith(t, route, nil, addrs...)
}

// proxyWith is proxyTo with engineWith's hook.
func proxyWith(t *testing.T, route func(*Request, *Decision), setup func(*Server), addrs ...string) (*Server, string, *testHandler) {
	t.Helper()
	p := &listPicker{}
	for _, a := range addrs {
		p.targets = append(p.targets, newTarget(a))
	}
	h := &testHandler{picker: p, route: route, done: make(chan Result, 64)}
	s, addr := engineWith(t, Options{Handler: h}, setup)
	return s, addr, h
}

// rawConn is a client speaking raw bytes, for requests net/http cannot send.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// response reads one response for a request with the given method.
func (r *rawConn) response(method string) (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("ReadResponse: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// closed reports whether the server closed the connection (EOF or reset) within 5s.
func (r *rawConn) closed() bool {
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := r.br.Read(b[:])
	if err == nil {
		return false
	}
	var ne net.Error
	if ok := asNetErr(err, &ne); ok && ne.Timeout() {
		return false
	}
	return true
}

func asNetErr(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}
