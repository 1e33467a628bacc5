package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/observe"
)

const testMaxHead = 64<<10 + 4096

func TestFramerVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []error // one per head, in order
	}{
		{name: "get", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", want: []error{nil}},
		{name: "content-length body then pipelined", in: "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nGET /x\r\n\r\nGET /b HTTP/1.1\r\n\r\n", want: []error{nil, nil}},
		{name: "chunked body with trailer then pipelined", in: "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nGET /\r\n0\r\nT: v\r\n\r\nGET /b HTTP/1.1\r\n\r\n", want: []error{nil, nil}},
		{name: "te case-insensitive with ows", in: "POST / HTTP/1.1\r\nTransfer-Encoding:\t CHUNKED \r\n\r\n0\r\n\r\n", want: []error{nil}},
		{name: "duplicate equal content-length", in: "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", want: []error{errCLMismatch}},
		{name: "leading empty line ignored", in: "\r\nGET / HTTP/1.1\r\n\r\n", want: []error{nil}},
		{name: "cl.te", in: "POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", want: []error{errTEWithCL}},
		{name: "te.cl", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", want: []error{errTEWithCL}},
		{name: "differing content-length", in: "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", want: []error{errCLMismatch}},
		{name: "content-length plus", in: "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", want: []error{errContentLength}},
		{name: "content-length hex", in: "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", want: []error{errContentLength}},
		{name: "content-length list", in: "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", want: []error{errContentLength}},
		{name: "content-length overflow", in: "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", want: []error{errContentLength}},
		{name: "content-length empty", in: "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", want: []error{errContentLength}},
		{name: "te xchunked", in: "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", want: []error{errTEUnsupported}},
		{name: "te chunked, identity", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", want: []error{errTEUnsupported}},
		{name: "te twice", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", want: []error{errTEDuplicate}},
		{name: "te in http/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", want: []error{errTEHTTP10}},
		{name: "space before colon", in: "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", want: []error{errHeaderName}},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", want: []error{errObsFold}},
		{name: "obs-fold hides te", in: "POST / HTTP/1.1\r\nX: a\r\n\tTransfer-Encoding: chunked\r\n\r\n", want: []error{errObsFold}},
		{name: "bare lf in header", in: "GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", want: []error{errBareLF}},
		{name: "bare lf request line", in: "GET / HTTP/1.1\nX: a\r\n\r\n", want: []error{errBareLF}},
		{name: "bare cr in value", in: "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", want: []error{errBareCR}},
		{name: "nul in value", in: "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", want: []error{errHeaderValue}},
		{name: "rejected head stops the framer", in: "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nGET / HTTP/1.1\r\n\r\n", want: []error{errCLMismatch}},
		{name: "http/2 preface stops", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Byte by byte and all at once must agree: net/http's reads split anywhere.
			for _, split := range []int{1, len(tc.in)} {
				f := newFramer(testMaxHead)
				for in := []byte(tc.in); len(in) > 0; {
					n := min(split, len(in))
					f.feed(in[:n])
					in = in[n:]
				}
				var got []error
				for v, ok := f.next(); ok; v, ok = f.next() {
					got = append(got, v.err)
				}
				if !sameErrs(got, tc.want) {
					t.Errorf("split %d: verdicts = %v, want %v", split, got, tc.want)
				}
			}
		})
	}
}

func sameErrs(a, b []error) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !errors.Is(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestParseChunkSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{in: "0", want: 0, ok: true},
		{in: "1aF", want: 0x1af, ok: true},
		{in: "10;name=value", want: 16, ok: true},
		{in: "10 ;x", want: 16, ok: true},
		{in: "", ok: false},
		{in: "-1", ok: false},
		{in: "0x10", ok: false},
		{in: "fffffffffffffffff", ok: false},
		{in: "8000000000000000", ok: false},
	}
	for _, tc := range tests {
		got, ok := parseChunkSize([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseChunkSize(%q) = %d, %v, want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestAdmit checks the handler-side checks on parsed requests.
func TestAdmit(t *testing.T) {
	t.Parallel()
	lc := &config.Listener{Limits: config.ListenerLimits{MaxURILength: 32, MaxHeaderCount: 3, MaxRequestsPerConnection: 2, MaxHeaderBytes: 1 << 10}}
	h := newHardening(lc)
	tests := []struct {
		name      string
		target    string
		header    http.Header
		wantOK    bool
		wantCode  int
		wantClose bool
	}{
		{name: "ok", target: "/a", header: http.Header{"A": {"1"}}, wantOK: true},
		{name: "uri too long", target: "/" + strings.Repeat("a", 32), wantCode: 414, wantClose: true},
		{name: "too many headers (host counts)", target: "/", header: http.Header{"A": {"1", "2"}, "B": {"3"}}, wantCode: 431, wantClose: true},
		{name: "lf in value", target: "/", header: http.Header{"A": {"1\nB: 2"}}, wantCode: 400, wantClose: true},
		{name: "nul in name", target: "/", header: http.Header{"A\x00": {"1"}}, wantCode: 400, wantClose: true},
		{name: "underscore transfer-encoding", target: "/", header: http.Header{"Transfer_encoding": {"chunked"}}, wantCode: 400, wantClose: true},
		{name: "underscore consumer stripped", target: "/", header: http.Header{"X_consumer": {"alice"}}, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Header = tc.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			w := httptest.NewRecorder()
			ok := h.admit(w, r, &observe.Record{}, "X-Consumer")
			if ok != tc.wantOK {
				t.Fatalf("admit() = %v, want %v (status %d)", ok, tc.wantOK, w.Code)
			}
			if !ok && w.Code != tc.wantCode {
				t.Errorf("status = %d, want %d", w.Code, tc.wantCode)
			}
			if got := w.Header().Get("Connection") == "close"; got != tc.wantClose {
				t.Errorf("Connection: close = %v, want %v", got, tc.wantClose)
			}
		})
	}
	t.Run("h2c upgrade dropped, websocket kept", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Upgrade", "foo, H2C")
		r.Header.Set("Http2-Settings", "AAA")
		if !h.admit(httptest.NewRecorder(), r, &observe.Record{}, "X-Consumer") {
			t.Fatal("admit() = false, want true")
		}
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" {
			t.Errorf("header after admit = %v, want no Upgrade or HTTP2-Settings", r.Header)
		}
		r = httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Upgrade", "websocket")
		h.admit(httptest.NewRecorder(), r, &observe.Record{}, "X-Consumer")
		if r.Header.Get("Upgrade") != "websocket" {
			t.Errorf("Upgrade = %q, want websocket kept", r.Header.Get("Upgrade"))
		}
	})
	t.Run("per-connection limit", func(t *testing.T) {
		t.Parallel()
		ctx := hardenConnContext(context.Background(), &net.TCPConn{})
		var closes []bool
		for range 3 {
			r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
			w := httptest.NewRecorder()
			h.admit(w, r, &observe.Record{}, "X-Consumer")
			closes = append(closes, w.Header().Get("Connection") == "close")
		}
		if closes[0] || !closes[1] {
			t.Errorf("Connection: close per request = %v, want [false true ...]", closes)
		}
	})
}

// TestRawListenerEndToEnd runs a real http.Server behind the wrapped listener and the
// admit check, so the framer meets net/http's own reads (bufio, background reads).
func TestRawListenerEndToEnd(t *testing.T) {
	t.Parallel()
	lc := &config.Listener{Limits: config.ListenerLimits{MaxURILength: 8 << 10, MaxHeaderCount: 100, MaxHeaderBytes: 64 << 10}}
	h := newHardening(lc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ConnContext: hardenConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !h.admit(w, r, &observe.Record{}, "X-Consumer") {
				return
			}
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		}),
	}
	go srv.Serve(h.wrap(ln))
	t.Cleanup(func() { srv.Close() })

	tests := []struct {
		name  string
		in    string
		codes []int
	}{
		{name: "pipelined with bodies", in: "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", codes: []int{200, 200, 200}},
		{name: "unread body discarded by net/http", in: "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", codes: []int{200, 200}},
		{name: "cl.te refused and closed", in: "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n", codes: []int{400}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.in)
			br := bufio.NewReader(c)
			var codes []int
			for range 5 {
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					break
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				codes = append(codes, res.StatusCode)
			}
			if len(codes) != len(tc.codes) {
				t.Fatalf("statuses = %v, want %v then close", codes, tc.codes)
			}
			for i := range codes {
				if codes[i] != tc.codes[i] {
					t.Fatalf("statuses = %v, want %v then close", codes, tc.codes)
				}
			}
		})
	}
}

// FuzzFraming feeds arbitrary request bytes to the framer. Properties: it never panics;
// its verdicts do not depend on how the bytes are split; and a head it accepts is one
// net/http parses with the same method, target and body framing (so a head the framer
// calls clean cannot mean something else to the server behind it).
func FuzzFraming(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\nx",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		whole := newFramer(testMaxHead)
		whole.feed(in)
		parts := newFramer(testMaxHead)
		step := int(split%16) + 1
		for b := in; len(b) > 0; {
			n := min(step, len(b))
			parts.feed(b[:n])
			b = b[n:]
		}
		if len(whole.verdicts) != len(parts.verdicts) {
			t.Fatalf("verdicts whole %v, split by %d %v", whole.verdicts, step, parts.verdicts)
		}
		for i := range whole.verdicts {
			if whole.verdicts[i] != parts.verdicts[i] {
				t.Fatalf("verdict %d whole %v, split by %d %v", i, whole.verdicts[i], step, parts.verdicts[i])
			}
		}
		if len(whole.verdicts) == 0 || whole.verdicts[0].err != nil {
			return
		}
		// net/http, reading the same bytes with one reader, must find the same heads
		// where the framer did: the same first request, and after its body the same
		// second one. net/http may be stricter (request-target, Host); never more lenient.
		br := bufio.NewReader(bytes.NewReader(in))
		for i, v := range whole.verdicts {
			if v.err != nil {
				return
			}
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if v.sum != requestSumString(r.Method, r.RequestURI) {
				t.Fatalf("head %d: framer saw another request than net/http's %q %q", i, r.Method, r.RequestURI)
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
		}
	})
}

func TestAliasOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, consumer string
		want           int
	}{
		{name: "X_Consumer", consumer: "X-Consumer", want: aliasStrip},
		{name: "x_consumer", consumer: "", want: aliasStrip},
		{name: "X_User", consumer: "X-User", want: aliasStrip},
		{name: "X_Forwarded_For", want: aliasStrip},
		{name: "Content_Length", want: aliasFraming},
		{name: "transfer_ENCODING", want: aliasFraming},
		{name: "My_Header", want: aliasNone},
	}
	for _, tc := range tests {
		if got := aliasOf(tc.name, tc.consumer); got != tc.want {
			t.Errorf("aliasOf(%q, %q) = %d, want %d", tc.name, tc.consumer, got, tc.want)
		}
	}
}

// BenchmarkFramerFeed is the per-connection cost of following a keep-alive stream of
// typical requests (one head of ~300 bytes and a small body each).
func BenchmarkFramerFeed(b *testing.B) {
	req := []byte("POST /api/orders/123 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench/1.0\r\n" +
		"Accept: application/json\r\nContent-Type: application/json\r\nAuthorization: Bearer abcdefghijklmnopqrstuvwxyz\r\n" +
		"X-Request-Id: 0123456789abcdef\r\nContent-Length: 13\r\n\r\n{\"qty\": 1234}")
	f := newFramer(testMaxHead)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		f.feed(req)
		if _, ok := f.next(); !ok {
			b.Fatal("no verdict")
		}
	}
}

// BenchmarkAdmit is the per-request cost of the handler-side checks.
func BenchmarkAdmit(b *testing.B) {
	lc := &config.Listener{Limits: config.ListenerLimits{MaxURILength: 8 << 10, MaxHeaderCount: 100, MaxHeaderBytes: 64 << 10}}
	h := newHardening(lc)
	r := httptest.NewRequest("GET", "/api/orders/123?x=1", nil)
	for _, k := range []string{"User-Agent", "Accept", "Content-Type", "Authorization", "X-Request-Id", "Accept-Encoding", "Cookie"} {
		r.Header.Set(k, "some ordinary value of a field")
	}
	r = r.WithContext(hardenConnContext(context.Background(), &net.TCPConn{}))
	w := httptest.NewRecorder()
	rec := &observe.Record{}
	b.ReportAllocs()
	for b.Loop() {
		if !h.admit(w, r, rec, "X-Consumer") {
			b.Fatal("refused")
		}
	}
}
