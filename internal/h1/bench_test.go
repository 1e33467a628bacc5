package h1

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

const benchHead = "GET /api/v1/items?limit=10&offset=20 HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) bench\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x\r\n" +
	"X-Request-Id: 0123456789abcdef\r\n" +
	"Connection: keep-alive\r\n\r\n"

func BenchmarkParseRequest(b *testing.B) {
	raw := []byte(benchHead)
	r := &Request{}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r.reset()
		st := headState{}
		if end, status, _ := parseRequestHead(r, raw, &st, &testLimits); end != len(raw) || status != 0 {
			b.Fatal("parse failed")
		}
		if r.Get("authorization") == "" {
			b.Fatal("lookup failed")
		}
	}
}

func BenchmarkHeaderRewrite(b *testing.B) {
	s := NewServer(Options{Handler: &testHandler{}})
	c := &conn{s: s}
	st := headState{}
	if end, status, _ := parseRequestHead(&c.req, []byte(benchHead), &st, &testLimits); end == 0 || status != 0 {
		b.Fatal("parse failed")
	}
	c.req.remote = addrPort(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5555})
	t := newTarget("127.0.0.1:9000")
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c.d.reset(&c.req)
		c.d.Header.Set("X-Consumer", "alice")
		c.d.Header.Del("Authorization")
		c.d.RespHeader.Set("X-Request-Id", "0123456789abcdef")
		buf = c.appendRequestHead(buf[:0], t)
	}
	if !bytes.Contains(buf, []byte("X-Consumer: alice\r\n")) || bytes.Contains(buf, []byte("Bearer")) {
		b.Fatalf("unexpected head:\n%s", buf)
	}
}

// fixedUpstream answers each request head with the same bytes, allocation-free, so
// the benchmark's allocation count is the engine's.
func fixedUpstream(tb testing.TB, answer []byte) string {
	return testbackend.ServeConns(tb, testbackend.Listen(tb), func(c net.Conn) {
		buf := make([]byte, 16<<10)
		have := 0
		for {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
			for {
				i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				copy(buf, buf[i+4:have])
				have -= i + 4
				if _, err := c.Write(answer); err != nil {
					return
				}
			}
		}
	})
}

type benchHandler struct{ t *balancer.Target }

func (h *benchHandler) Pick(*balancer.Info) (*balancer.Target, error) { return h.t, nil }
func (h *benchHandler) Route(req *Request, d *Decision) {
	d.Picker = h
	d.Header.Set("X-Request-Id", "0123456789abcdef")
}
func (h *benchHandler) Done(*Request, *Decision, *Result) {}

// BenchmarkProxy measures one proxied request over loopback: a keep-alive client
// connection → engine → keep-alive upstream connection, allocations counted process-wide.
func BenchmarkProxy(b *testing.B) {
	for _, size := range []int{6, 16 << 10} {
		b.Run(map[int]string{6: "small", 16 << 10: "16k"}[size], func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), size)
			answer := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Backend: b1\r\nContent-Length: "+itoa(size)+"\r\n\r\n"), body...)
			up := fixedUpstream(b, answer)
			h := &benchHandler{t: newTarget(up)}
			_, addr := engine(b, Options{Handler: h})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte(benchHead)
			// Learn the response length from the first exchange.
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n := readResponseLen(b, c, buf)
			_ = c.SetReadDeadline(time.Time{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// readResponseLen reads one whole response (Content-Length framed) and returns its size.
func readResponseLen(tb testing.TB, c net.Conn, buf []byte) int {
	have := 0
	for {
		k, err := c.Read(buf[have:])
		if err != nil {
			tb.Fatal(err)
		}
		have += k
		i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
		if i < 0 {
			continue
		}
		j := bytes.Index(buf[:i], []byte("Content-Length: "))
		if j < 0 {
			tb.Fatalf("no Content-Length in %q", buf[:i])
		}
		cl := 0
		for _, d := range buf[j+16:] {
			if d < '0' || d > '9' {
				break
			}
			cl = cl*10 + int(d-'0')
		}
		total := i + 4 + cl
		for have < total {
			k, err := c.Read(buf[have:])
			if err != nil {
				tb.Fatal(err)
			}
			have += k
		}
		return total
	}
}

// discardWriter is an http.ResponseWriter that keeps only its header map, cleared
// (not reallocated) for each request, so BenchmarkExchange counts Exchange's own
// allocations.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkExchange measures Server.Exchange, the path of an HTTP/2 stream, for one
// small request over a keep-alive loopback upstream connection, without the HTTP/2
// server around it. Its allocations are the response head's copy into the header map
// (one array for the values, one for their slots) and the canonical form of a field
// name outside the common table (X-Backend here).
func BenchmarkExchange(b *testing.B) {
	answer := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 27 Nov 2026 13:03:31 GMT\r\nContent-Type: text/plain\r\nX-Backend: b1\r\nContent-Length: 6\r\n\r\nhello\n")
	up := fixedUpstream(b, answer)
	s, _ := engine(b, Options{Handler: &testHandler{}})
	h := &benchHandler{t: newTarget(up)}
	r, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("User-Agent", "bench")
	r.RemoteAddr = "127.0.0.1:40000" // as the HTTP/2 server sets it
	w := &discardWriter{h: http.Header{}}
	d := &Decision{}
	var res Result
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		*d = Decision{Picker: h, ResponseHeaderTimeout: 5 * time.Second}
		res = Result{}
		if p, answer := s.Exchange(w, r, d, &res); answer || w.status != 200 {
			b.Fatalf("Exchange: answer %v (%v), status %d", answer, p, w.status)
		}
	}
}
