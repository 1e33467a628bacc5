package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/h2"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// exchangeProxy serves HTTP on a real loopback listener through Server.Exchange to the
// upstream at addr, as the gateway does for HTTP/2 streams, and returns its URL.
func exchangeProxy(t *testing.T, addr string) string {
	t.Helper()
	s, _ := engine(t, Options{Handler: &testHandler{}})
	picker := &listPicker{targets: []*balancer.Target{newTarget(addr)}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := &Decision{Picker: picker, ResponseHeaderTimeout: 5 * time.Second}
		var res Result
		if p, answer := s.Exchange(w, r, d, &res); answer {
			http.Error(w, p.Reason, p.Status)
			return
		}
		if res.Reason == "upstream_aborted" {
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// getSized GETs /n/<n> from url and fails unless the answer is 200 with the n
// patterned bytes splitUpstream sends; the body is read to its end.
func getSized(t *testing.T, c *http.Client, url string, n int) *http.Response {
	t.Helper()
	resp, err := c.Get(fmt.Sprintf("%s/n/%d", url, n))
	if err != nil {
		t.Fatalf("GET /n/%d: %v", n, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, patterned(n)) {
		t.Fatalf("GET /n/%d: status %d, %d body bytes (intact %v), %v; want 200 and %d intact bytes",
			n, resp.StatusCode, len(body), bytes.Equal(body, patterned(n)), err, n)
	}
	return resp
}

// TestExchangeRelay checks that Exchange relays Content-Length, chunked and
// close-delimited responses of sizes around the engine's buffer sizes intact, however
// the upstream splits them, with the chunked body's trailer, and keeps the upstream
// connection when the framing allows it.
func TestExchangeRelay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		split     string
		trailer   string
		wantConns int64 // upstream connections for all sizes; 0: one per request
	}{
		{split: "one_write", wantConns: 1},
		{split: "slow_head", wantConns: 1},
		{split: "head_then_body", wantConns: 1},
		{split: "pieces", wantConns: 1},
		{split: "chunked", trailer: "t", wantConns: 1},
		{split: "close"},
	}
	sizes := []int{0, 6, 16 << 10, 32<<10 - 512, 32 << 10, 32<<10 + 1, 100 << 10}
	for _, tc := range cases {
		t.Run(tc.split, func(t *testing.T) {
			t.Parallel()
			up := newSplitUpstream(t, tc.split, false, 0)
			url := exchangeProxy(t, up.ln.Addr().String())
			// One connection to the front server, so each request's handler starts after
			// the previous one returned (and pooled its upstream connection). With more,
			// the client may send the next request on a new connection while the
			// previous handler is still between its last write and the pool, and the
			// new handler dials: a second upstream connection with nothing wrong.
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
			for _, n := range sizes {
				resp := getSized(t, c, url, n)
				if got := resp.Header.Get("X-Up"); got != "1" {
					t.Errorf("GET /n/%d: X-Up = %q, want %q", n, got, "1")
				}
				if got := resp.Trailer.Get("X-Trail"); got != tc.trailer {
					t.Errorf("GET /n/%d: trailer X-Trail = %q, want %q", n, got, tc.trailer)
				}
			}
			want := tc.wantConns
			if want == 0 {
				want = int64(len(sizes))
			}
			if got := up.conns.Load(); got != want {
				t.Errorf("upstream connections = %d, want %d", got, want)
			}
		})
	}
}

// TestExchangeBytesPastBody checks that Exchange, like the engine, does not relay bytes
// an upstream sends past the framed body and does not reuse that connection.
func TestExchangeBytesPastBody(t *testing.T) {
	t.Parallel()
	up := newSplitUpstream(t, "one_write", true, 0)
	url := exchangeProxy(t, up.ln.Addr().String())
	c := &http.Client{Timeout: 10 * time.Second}
	for _, n := range []int{6, 16 << 10, 6} {
		getSized(t, c, url, n)
	}
	if got := up.conns.Load(); got != 3 {
		t.Errorf("upstream connections = %d, want 3 (none reused after extra bytes)", got)
	}
}

// batchRecorder is a ResponseWriter whose client connection claims running siblings:
// it counts how often Exchange asks.
type batchRecorder struct {
	*httptest.ResponseRecorder
	asked atomic.Int32
}

func (b *batchRecorder) SiblingsSending() bool { b.asked.Add(1); return true }

// TestExchangeAsksSendBatcher: before its upstream send, Exchange asks a
// ResponseWriter that implements SendBatcher whether siblings are sending (and then
// yields), once per send, and the exchange is otherwise unchanged.
func TestExchangeAsksSendBatcher(t *testing.T) {
	t.Parallel()
	up := newSplitUpstream(t, "one_write", false, 0)
	s, _ := engine(t, Options{Handler: &testHandler{}})
	picker := &listPicker{targets: []*balancer.Target{newTarget(up.ln.Addr().String())}}
	for i := 1; i <= 3; i++ {
		w := &batchRecorder{ResponseRecorder: httptest.NewRecorder()}
		r := httptest.NewRequest("GET", "/n/6", nil)
		d := &Decision{Picker: picker, ResponseHeaderTimeout: 5 * time.Second}
		var res Result
		if p, answer := s.Exchange(w, r, d, &res); answer {
			t.Fatalf("request %d: answered %d %s, want a forwarded response", i, p.Status, p.Reason)
		}
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), patterned(6)) {
			t.Fatalf("request %d: status %d body %q, want 200 and the upstream's 6 bytes", i, w.Code, w.Body.Bytes())
		}
		if n := w.asked.Load(); n != 1 {
			t.Fatalf("request %d: SiblingsSending asked %d times, want once (before the one upstream send)", i, n)
		}
	}
}

// TestH2WriterIsSendBatcher: the HTTP/2 server's ResponseWriter implements
// SendBatcher, and reports siblings only while another stream of the same connection
// is being handled.
func TestH2WriterIsSendBatcher(t *testing.T) {
	t.Parallel()
	held, release := make(chan struct{}), make(chan struct{})
	srv := h2.NewServer(h2.Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(held)
			<-release
			return
		}
		b, ok := w.(SendBatcher)
		if !ok {
			http.Error(w, "not a SendBatcher", 500)
			return
		}
		fmt.Fprint(w, b.SiblingsSending())
	})})
	addr := testbackend.ServeConns(t, testbackend.Listen(t), srv.ServeConn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	cl := testbackend.H2CClient()
	cl.Timeout = 10 * time.Second
	url := "http://" + addr
	ask := func(want string) {
		t.Helper()
		resp, err := cl.Get(url + "/ask")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("GET /ask: %d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}
	ask("false") // alone on the connection
	holdDone := make(chan error, 1)
	go func() {
		resp, err := cl.Get(url + "/hold")
		if err == nil {
			resp.Body.Close()
		}
		holdDone <- err
	}()
	<-held
	ask("true") // the same connection (the client multiplexes) runs /hold meanwhile
	close(release)
	if err := <-holdDone; err != nil {
		t.Fatal(err)
	}
}

// TestExchangeResponseHeaders: Exchange copies the upstream's response fields into the
// ResponseWriter's map as the client must see them: repeated fields in order, empty
// values kept, hop-by-hop fields and those named by Connection dropped, over a kept-
// alive upstream connection.
func TestExchangeResponseHeaders(t *testing.T) {
	t.Parallel()
	up := testbackend.ServeConns(t, testbackend.Listen(t), func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			p := req.URL.Path
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nSet-Cookie: a=%s\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n"+
				"Keep-Alive: timeout=5\r\nX-Empty:\r\nSet-Cookie: b=%s\r\nX-Path: %s\r\nContent-Length: 2\r\n\r\nok", p, p, p)
		}
	})
	url := exchangeProxy(t, up)
	c := &http.Client{Timeout: 10 * time.Second}
	for _, p := range []string{"/one", "/two", "/three"} {
		resp, err := c.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := resp.Header
		if got, want := h.Values("Set-Cookie"), []string{"a=" + p, "b=" + p}; !slices.Equal(got, want) {
			t.Errorf("%s: Set-Cookie %q, want %q", p, got, want)
		}
		if got := h.Get("X-Path"); got != p {
			t.Errorf("%s: X-Path %q", p, got)
		}
		if v, ok := h["X-Empty"]; !ok || len(v) != 1 || v[0] != "" {
			t.Errorf("%s: X-Empty %q (present %v), want one empty value", p, v, ok)
		}
		for _, k := range []string{"X-Secret", "Keep-Alive"} {
			if v, ok := h[k]; ok {
				t.Errorf("%s: %s forwarded (%q)", p, k, v)
			}
		}
	}
}
