package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// ordered picks the first target not tried yet, so tests know which target a try hits.
type ordered struct{ targets []*balancer.Target }

func (p *ordered) Pick(info *balancer.Info) (*balancer.Target, error) {
	for _, t := range p.targets {
		if !wasTried(info, t) {
			return t, nil
		}
	}
	return nil, balancer.ErrNoTarget
}

// roundRobin rotates over targets not tried yet.
type roundRobin struct {
	mu      sync.Mutex
	targets []*balancer.Target
	next    int
}

func (p *roundRobin) Pick(info *balancer.Info) (*balancer.Target, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.targets {
		t := p.targets[(p.next+i)%len(p.targets)]
		if !wasTried(info, t) {
			p.next = (p.next + i + 1) % len(p.targets)
			return t, nil
		}
	}
	return nil, balancer.ErrNoTarget
}

func wasTried(info *balancer.Info, t *balancer.Target) bool {
	for _, x := range info.Tried {
		if x == t {
			return true
		}
	}
	return false
}

// countingObserver records try outcomes per target URL.
type countingObserver struct {
	mu     sync.Mutex
	failed map[string]int
	ok     map[string]int
}

func (o *countingObserver) Observe(t *balancer.Target, failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed == nil {
		o.failed, o.ok = map[string]int{}, map[string]int{}
	}
	if failed {
		o.failed[t.URL]++
	} else {
		o.ok[t.URL]++
	}
}

func (o *countingObserver) counts(u string) (ok, failed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ok[u], o.failed[u]
}

func target(t testing.TB, raw string) *balancer.Target {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return &balancer.Target{URL: raw, Scheme: u.Scheme, Addr: u.Host, Weight: 1, State: new(balancer.State)}
}

// deadURL returns an http URL of a loopback port nothing listens on.
func deadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// gw is a real gateway-like server whose handler is one proxy Handler.
type gw struct {
	URL string
	h   *Handler
	srv *httptest.Server
	exs chan Exchange
}

// startProxy serves h on a loopback port. setup may adjust each Exchange.
func startProxy(t testing.TB, o Options, setup func(r *http.Request, ex *Exchange)) *gw {
	t.Helper()
	if o.Transport == nil {
		tr := NewTransport(TransportOptions{ConnectTimeout: 2 * time.Second})
		t.Cleanup(tr.CloseIdleConnections)
		o.Transport = tr
	}
	g := &gw{h: New(o), exs: make(chan Exchange, 256)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &Exchange{RequestID: "req-test-1"}
		if setup != nil {
			setup(r, ex)
		}
		defer func() {
			select {
			case g.exs <- *ex:
			default:
			}
		}()
		g.h.Serve(w, r, ex)
	}))
	g.URL = g.srv.URL
	t.Cleanup(g.srv.Close)
	return g
}

// exchange returns the Exchange of the next finished request.
func (g *gw) exchange(t testing.TB) Exchange {
	t.Helper()
	select {
	case ex := <-g.exs:
		return ex
	case <-time.After(10 * time.Second):
		t.Fatal("no exchange recorded within 10s")
		return Exchange{}
	}
}

func client(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func get(t testing.TB, c *http.Client, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, b
}

func decodeEcho(t testing.TB, b []byte) testbackend.Echo {
	t.Helper()
	var e testbackend.Echo
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("echo body %q: %v", b, err)
	}
	return e
}

// rawRequest sends a hand-written HTTP/1.1 request and returns the parsed response.
func rawRequest(t testing.TB, addr, req string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(newReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return res
}

func hostOf(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") }

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
