package h2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
	"golang.org/x/net/http2"
)

// serveTest runs a Server for h on a loopback listener and returns its address.
func serveTest(t *testing.T, h http.Handler, o Options) (string, *Server) {
	t.Helper()
	o.Handler = h
	s := NewServer(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.ServeConn(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown() = %v, want nil", err)
		}
		wg.Wait()
	})
	return ln.Addr().String(), s
}

// h2cClient is x/net/http2's client speaking h2c with prior knowledge.
func h2cClient() *http.Client {
	c := testbackend.H2CClient()
	c.Timeout = 20 * time.Second
	return c
}

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Cl", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
		if r.URL.Path == "/status" {
			w.WriteHeader(http.StatusTeapot)
		}
		io.Copy(w, r.Body)
	})
}

func TestServeRequests(t *testing.T) {
	addr, _ := serveTest(t, echo(), Options{})
	cl := h2cClient()
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB: beyond every window
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		header     map[string]string
		wantStatus int
		wantBody   []byte
		wantHeader map[string]string
	}{
		{name: "get", method: "GET", path: "/a?b=c", wantStatus: 200, wantBody: nil,
			wantHeader: map[string]string{"X-Method": "GET", "X-Path": "/a?b=c", "X-Cl": "0", "Content-Length": "0"}},
		{name: "post small", method: "POST", path: "/p", body: []byte("hello"), wantStatus: 200, wantBody: []byte("hello"),
			wantHeader: map[string]string{"X-Cl": "5", "Content-Length": "5"}},
		{name: "post large", method: "POST", path: "/big", body: big, wantStatus: 200, wantBody: big},
		{name: "status", method: "GET", path: "/status", wantStatus: 418},
		{name: "cookies joined", method: "GET", path: "/c", header: map[string]string{"Cookie": "a=1; b=2"}, wantStatus: 200,
			wantHeader: map[string]string{"X-Cookie": "a=1; b=2"}},
		{name: "head", method: "HEAD", path: "/h", wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, bytes.NewReader(tc.body))
			if tc.body == nil {
				req.Body = nil
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatalf("Do() error = %v", err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("Proto = %s, want HTTP/2.0", resp.Proto)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("StatusCode = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantBody != nil && !bytes.Equal(got, tc.wantBody) {
				t.Errorf("body = %d bytes, want %d", len(got), len(tc.wantBody))
			}
			for k, v := range tc.wantHeader {
				if g := resp.Header.Get(k); g != v {
					t.Errorf("Header[%s] = %q, want %q", k, g, v)
				}
			}
			if resp.Header.Get("Date") == "" {
				t.Errorf("Header[Date] empty, want a date")
			}
		})
	}
}

func TestConcurrentStreams(t *testing.T) {
	addr, _ := serveTest(t, echo(), Options{})
	cl := h2cClient()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat(fmt.Sprint(i), 1+i*50)
			resp, err := cl.Post("http://"+addr+"/c", "text/plain", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(got) != body {
				errs <- fmt.Errorf("stream %d: body %d bytes (err %v), want %d", i, len(got), err, len(body))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestStreamingFlush(t *testing.T) {
	next := make(chan struct{})
	addr, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-next: // the client read "first" before "second" exists
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second\n")
	}), Options{})
	resp, err := h2cClient().Get("http://" + addr + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first read = %q, %v, want %q", buf, err, "first\n")
	}
	close(next)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest = %q, %v, want %q", rest, err, "second\n")
	}
}

func TestTrailers(t *testing.T) {
	addr, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body:"+string(body))
		w.Header().Set("X-Sum", "declared")
		w.Header().Set(http.TrailerPrefix+"X-Late", "prefixed")
		w.Header().Set("X-Req-Trailer", r.Trailer.Get("X-Client")) // too late for headers: not sent
	}), Options{})
	req, _ := http.NewRequest("POST", "http://"+addr+"/t", io.NopCloser(strings.NewReader("abc")))
	req.Trailer = http.Header{"X-Client": {"tv"}}
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "body:abc" {
		t.Errorf("body = %q, want %q", got, "body:abc")
	}
	for k, want := range map[string]string{"X-Sum": "declared", "X-Late": "prefixed"} {
		if g := resp.Trailer.Get(k); g != want {
			t.Errorf("Trailer[%s] = %q, want %q", k, g, want)
		}
	}
	if g := resp.Header.Get("X-Sum"); g != "" {
		t.Errorf("Header[X-Sum] = %q, want it only as a trailer", g)
	}
}

func TestRequestTrailers(t *testing.T) {
	got := make(chan string, 1)
	addr, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Trailer.Get("X-Client")
	}), Options{})
	req, _ := http.NewRequest("POST", "http://"+addr+"/t", io.NopCloser(strings.NewReader("abc")))
	req.Trailer = http.Header{"X-Client": {"tv"}}
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if g := <-got; g != "tv" {
		t.Errorf("request Trailer[X-Client] = %q, want %q", g, "tv")
	}
}

func TestAbortAndCancel(t *testing.T) {
	cancelled := make(chan struct{})
	addr, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/short":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
		case "/wait":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			close(cancelled)
		}
	}), Options{})
	cl := h2cClient()
	for _, path := range []string{"/abort", "/short"} {
		resp, err := cl.Get("http://" + addr + path)
		if err != nil {
			continue // the reset may arrive before the headers
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("GET %s: body read error = nil, want a stream reset", path)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/wait", nil)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("handler context not cancelled 10s after the client reset the stream")
	}
}

func TestHeadersTooLarge(t *testing.T) {
	addr, _ := serveTest(t, echo(), Options{MaxHeaderListSize: 4 << 10})
	req, _ := http.NewRequest("GET", "http://"+addr+"/x", nil)
	for i := range 8 { // each field fits the decoder's string limit; together they exceed the list size
		req.Header.Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("a", 700))
	}
	resp, err := h2cClient().Do(req)
	if err != nil {
		// x/net's client checks the server's advertised limit itself.
		if !strings.Contains(err.Error(), "header list") {
			t.Fatalf("Do() error = %v, want a header-list error or 431", err)
		}
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 431 {
		t.Errorf("StatusCode = %d, want 431", resp.StatusCode)
	}
}

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	})
	s := NewServer(Options{Handler: h})
	ln := testbackend.Listen(t)
	testbackend.ServeConns(t, ln, s.ServeConn)
	cl := h2cClient()
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := cl.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	<-started
	shut := shutdownAsync(s, 10*time.Second)
	// The connection stays up for the stream in flight; Shutdown waits for it.
	select {
	case err := <-shut:
		t.Fatalf("Shutdown() returned %v before the stream in flight finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	r := <-res
	if r.err != nil || r.body != "done" {
		t.Errorf("in-flight GET = %q, %v, want %q", r.body, r.err, "done")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v, want nil", err)
	}
	// A connection handed over after Shutdown is refused: the server's SETTINGS (its
	// preface must come first, RFC 9113 section 3.4), then GOAWAY.
	c1, c2 := net.Pipe()
	go s.ServeConn(c2)
	fr := http2.NewFramer(nil, c1)
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	requireSettingsFirst(t, fr)
	if ga := readUntilGoAway(t, fr); ga.ErrCode != http2.ErrCodeNo {
		t.Errorf("GOAWAY code after Shutdown = %v, want NO_ERROR", ga.ErrCode)
	}
	c1.Close()
}

// readUntilGoAway reads frames until a GOAWAY and returns it; the connection ending
// first fails the test.
func readUntilGoAway(t *testing.T, fr *http2.Framer) *http2.GoAwayFrame {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read before GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga
		}
	}
}

// requireSettingsFirst fails the test unless the server's first frame is its SETTINGS
// (not an ACK): RFC 9113 section 3.4 puts the server preface before anything else.
func requireSettingsFirst(t *testing.T, fr *http2.Framer) {
	t.Helper()
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("first frame: %v", err)
	}
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("first frame = %v, want the server's SETTINGS before anything else", f)
	}
}

// shutdownAsync runs s.Shutdown with a timeout of d on its own goroutine; the channel
// gets its result.
func shutdownAsync(s *Server, d time.Duration) <-chan error {
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	return shut
}

// TestShutdownBeforeClientPreface: Shutdown reaching a connection whose client
// preface has not arrived yet still sends the server's SETTINGS before its GOAWAY; a
// client that got GOAWAY first would fail with PROTOCOL_ERROR (seen in the gateway's
// reload-under-load test) instead of retrying elsewhere.
func TestShutdownBeforeClientPreface(t *testing.T) {
	s := NewServer(Options{Handler: echo()})
	ln := testbackend.Listen(t)
	testbackend.ServeConns(t, ln, s.ServeConn)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection not registered by the server within 5s")
		}
		time.Sleep(time.Millisecond) // the server's registry has no signal to wait on
	}
	shut := shutdownAsync(s, 8*time.Second)
	fr := http2.NewFramer(c, c)
	requireSettingsFirst(t, fr)
	if ga := readUntilGoAway(t, fr); ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 0 {
		t.Errorf("GOAWAY = last %d, %v; want last 0, NO_ERROR", ga.LastStreamID, ga.ErrCode)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v, want nil", err)
	}
}

// noHalfClose is a connection that cannot half-close and says so, like a wrapper
// over a socket without CloseWrite: a lingering close then ends only at its deadline.
type noHalfClose struct{ net.Conn }

func (noHalfClose) CloseWrite() error { return errors.ErrUnsupported }

// TestShutdownBeforeClientSettings: a connection whose client sends its SETTINGS only
// after Shutdown's GOAWAY still closes when its linger deadline passes, so Shutdown
// returns then rather than at its own deadline (the SETTINGS used to clear the
// linger's read deadline; the gateway's engine listener hit it under load).
func TestShutdownBeforeClientSettings(t *testing.T) {
	s := NewServer(Options{Handler: echo()})
	ln := testbackend.Listen(t)
	fr := dialPreface(t, testbackend.ServeConns(t, ln, func(c net.Conn) { s.ServeConn(noHalfClose{c}) }))
	requireSettingsFirst(t, fr)
	shut := shutdownAsync(s, 8*time.Second)
	readUntilGoAway(t, fr)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown() = %v, want nil", err)
		}
	case <-time.After(lingerTime + 3*time.Second):
		t.Fatalf("Shutdown() still waiting %v after GOAWAY; the connection outlived its linger", lingerTime+3*time.Second)
	}
}
