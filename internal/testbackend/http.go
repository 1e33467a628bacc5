package testbackend

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// HTTPOptions shapes an HTTP backend. The zero value is a working echo backend.
type HTTPOptions struct {
	// Name is reported in every Echo; default "backend".
	Name string
	// Status is the echo status when the request has no status= parameter; default 200.
	Status int
	// Delay is waited before every echo answer (cancelled with the request).
	Delay time.Duration
	// Handler, when set, serves every path instead of the built-in ones (requests are
	// still counted and Close/Restart still work).
	Handler http.Handler
}

// Echo is the JSON document the echo endpoint answers with.
type Echo struct {
	Backend    string      `json:"backend"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawPath    string      `json:"raw_path"`
	RawQuery   string      `json:"raw_query"`
	Host       string      `json:"host"`
	Proto      string      `json:"proto"`
	RemoteAddr string      `json:"remote_addr"`
	Headers    http.Header `json:"headers"`
	BodySHA256 string      `json:"body_sha256"`
	BodyLength int64       `json:"body_length"`
}

type kind int

const (
	kindH1 kind = iota
	kindH2C
	kindTLS
)

// HTTP is a running loopback HTTP backend. Its methods are safe for concurrent use.
type HTTP struct {
	// Name is the backend's name as reported in Echo.
	Name string
	// Addr is host:port, stable across Restart.
	Addr string
	// URL is "http://Addr", or "https://Addr" for a TLS backend.
	URL string

	tb       testing.TB
	opts     HTTPOptions
	kind     kind
	requests atomic.Int64
	canceled chan string

	mu   sync.Mutex
	srv  *httptest.Server
	done chan struct{} // closed by Close so blocked handlers return
}

// StartHTTP starts an HTTP/1.1 backend on 127.0.0.1:0; t.Cleanup closes it.
func StartHTTP(t testing.TB, opts HTTPOptions) *HTTP { return start(t, opts, kindH1) }

// StartH2C starts a backend that speaks HTTP/2 with prior knowledge over cleartext (and
// HTTP/1.1) on 127.0.0.1:0; t.Cleanup closes it.
func StartH2C(t testing.TB, opts HTTPOptions) *HTTP { return start(t, opts, kindH2C) }

// StartTLS starts an HTTPS backend (HTTP/2 via ALPN, and HTTP/1.1) on 127.0.0.1:0 with
// httptest's self-signed certificate; ClientTLS trusts it. t.Cleanup closes it.
func StartTLS(t testing.TB, opts HTTPOptions) *HTTP { return start(t, opts, kindTLS) }

func start(t testing.TB, opts HTTPOptions, k kind) *HTTP {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "backend"
	}
	if opts.Status == 0 {
		opts.Status = http.StatusOK
	}
	h := &HTTP{Name: opts.Name, tb: t, opts: opts, kind: k, canceled: make(chan string, 64)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbackend: listen: %v", err)
	}
	h.Addr = ln.Addr().String()
	h.URL = "http://" + h.Addr
	if k == kindTLS {
		h.URL = "https://" + h.Addr
	}
	h.serve(ln)
	t.Cleanup(h.Close)
	return h
}

func (h *HTTP) serve(ln net.Listener) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(h.handle))
	_ = srv.Listener.Close()
	srv.Listener = ln
	switch h.kind {
	case kindH2C:
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = p
		srv.Start()
	case kindTLS:
		srv.EnableHTTP2 = true
		srv.StartTLS()
	default:
		srv.Start()
	}
	h.mu.Lock()
	h.srv = srv
	h.done = make(chan struct{})
	h.mu.Unlock()
}

// ClientTLS returns a client TLS config that trusts the backend's certificate (nil for
// non-TLS backends).
func (h *HTTP) ClientTLS() *tls.Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kind != kindTLS || h.srv == nil {
		return nil
	}
	tr, ok := h.srv.Client().Transport.(*http.Transport)
	if !ok {
		return nil
	}
	return tr.TLSClientConfig.Clone()
}

// Requests returns the number of requests the backend has received (across restarts).
func (h *HTTP) Requests() int64 { return h.requests.Load() }

// Canceled delivers the request URI of every /hang request whose context ended (the
// client went away or the backend closed). Buffered; tests receive with a timeout.
func (h *HTTP) Canceled() <-chan string { return h.canceled }

// Close stops the backend: the listener is closed, blocked handlers return and open
// connections are cut. Safe to call twice.
func (h *HTTP) Close() {
	h.mu.Lock()
	srv, done := h.srv, h.done
	h.srv = nil
	h.mu.Unlock()
	if srv == nil {
		return
	}
	close(done)
	srv.CloseClientConnections()
	srv.Close()
}

// Restart starts a closed backend again on the same address. It fails the test if the
// port cannot be bound again within a few seconds.
func (h *HTTP) Restart() {
	h.tb.Helper()
	h.mu.Lock()
	running := h.srv != nil
	h.mu.Unlock()
	if running {
		h.tb.Fatalf("testbackend: Restart of running backend %s", h.Name)
	}
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", h.Addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling for the port, bounded by the deadline
	}
	if err != nil {
		h.tb.Fatalf("testbackend: restart on %s: %v", h.Addr, err)
	}
	h.serve(ln)
}

func (h *HTTP) doneCh() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return h.done
}

func (h *HTTP) handle(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if h.opts.Handler != nil {
		h.opts.Handler.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/sse":
		h.sse(w, r)
	case "/ws":
		h.ws(w, r)
	case "/trailers":
		trailers(w)
	case "/hang":
		select {
		case <-r.Context().Done():
			select {
			case h.canceled <- r.URL.RequestURI():
			default:
			}
		case <-h.doneCh():
		}
	default:
		h.echo(w, r)
	}
}

func (h *HTTP) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-h.doneCh():
		return false
	}
}

func (h *HTTP) echo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	delay := h.opts.Delay
	if s := q.Get("delay"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			delay = d
		}
	}
	// Read the body before waiting so a client that sent it is not blocked.
	sum := sha256.New()
	n, err := io.Copy(sum, r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !h.wait(r, delay) {
		return
	}
	status := h.opts.Status
	if s := q.Get("status"); s != "" {
		if c, err := strconv.Atoi(s); err == nil && c >= 100 && c <= 999 {
			status = c
		}
	}
	if s := q.Get("size"); s != "" {
		size, err := strconv.ParseInt(s, 10, 64)
		if err != nil || size < 0 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Trailer", "X-Body-Sha256")
		w.WriteHeader(status)
		out := sha256.New()
		_, _ = io.Copy(io.MultiWriter(w, out), PatternReader(size))
		w.Header().Set("X-Body-Sha256", hex.EncodeToString(out.Sum(nil)))
		return
	}
	e := Echo{
		Backend:    h.Name,
		Method:     r.Method,
		Path:       r.URL.Path,
		RawPath:    r.URL.RawPath,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		Proto:      r.Proto,
		RemoteAddr: r.RemoteAddr,
		Headers:    r.Header,
		BodySHA256: hex.EncodeToString(sum.Sum(nil)),
		BodyLength: n,
	}
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (h *HTTP) sse(w http.ResponseWriter, r *http.Request) {
	n := 3
	if s := r.URL.Query().Get("n"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v >= 0 {
			n = v
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i := 1; i <= n; i++ {
		if _, err := fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", i, i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
	if r.URL.Query().Get("hold") == "1" {
		select {
		case <-r.Context().Done():
		case <-h.doneCh():
		}
	}
}

func (h *HTTP) ws(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the client
	}
	defer c.CloseNow()
	ctx := r.Context()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

func trailers(w http.ResponseWriter) {
	w.Header().Set("Trailer", "X-Declared")
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "body with trailers\n")
	_ = http.NewResponseController(w).Flush() // forces chunked encoding so trailers can follow
	w.Header().Set("X-Declared", "declared-value")
	w.Header().Set(http.TrailerPrefix+"X-Undeclared", "undeclared-value")
}

// PatternReader returns n deterministic pseudo-random bytes: the same n always yields
// the same bytes, so a test can checksum what it expects without holding it in memory.
func PatternReader(n int64) io.Reader { return &pattern{left: n} }

type pattern struct {
	left  int64
	state uint32
	init  bool
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if !p.init {
		p.state, p.init = 2463534242, true
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	s := p.state
	for i := range b {
		// xorshift32: cheap, deterministic and without repeating blocks, so shifted or
		// duplicated chunks change the checksum.
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		b[i] = byte(s)
	}
	p.state = s
	p.left -= int64(len(b))
	return len(b), nil
}
