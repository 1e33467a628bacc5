package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark counts the
// proxy's allocations (plus net/http's client side), not a recorder's buffers.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkServe forwards a GET end to end through a real loopback HTTP/1.1 backend
// (the backend's own server work runs in the same process and is included).
func BenchmarkServe(b *testing.B) {
	be := testbackend.StartHTTP(b, testbackend.HTTPOptions{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"2"}
		_, _ = w.Write([]byte("ok"))
	})})
	tr := NewTransport(TransportOptions{})
	b.Cleanup(tr.CloseIdleConnections)
	tg := &balancer.Target{URL: be.URL, Scheme: "http", Addr: be.Addr, Weight: 1, State: new(balancer.State)}
	h := New(Options{Upstream: "bench", Picker: &ordered{targets: []*balancer.Target{tg}}, Transport: tr,
		ResponseHeaderTimeout: 0, Retry: RetryPolicy{Attempts: 2, OnConnect: true}})

	template := http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}, "Connection": {"keep-alive"}}
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/v1/items?id=7", nil)
	r.RemoteAddr = "192.0.2.10:41234"
	u := *r.URL
	w := &discardWriter{h: make(http.Header, 8)}
	b.ReportAllocs()
	for b.Loop() {
		clear(r.Header)
		for k, v := range template {
			r.Header[k] = v
		}
		clear(w.h)
		*r.URL = u
		ex := Exchange{RequestID: "0123456789abcdef"}
		h.Serve(w, r, &ex)
		if ex.Status != 200 {
			b.Fatalf("status = %d", ex.Status)
		}
	}
}
