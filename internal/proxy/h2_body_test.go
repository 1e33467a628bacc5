package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// TestH2CRequestBodies checks what reaches the upstream from HTTP/2 client requests
// with no body (HEADERS ends the stream), a declared-length body and a body of
// unknown length: the proxy treats ContentLength 0 as no body, and must not drop
// the others.
func TestH2CRequestBodies(t *testing.T) {
	t.Parallel()
	type seen struct {
		cl   int64
		te   []string
		body string
	}
	got := make(chan seen, 8)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{cl: r.ContentLength, te: r.TransferEncoding, body: string(b)}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)

	tr := NewTransport(TransportOptions{ConnectTimeout: 2 * time.Second})
	t.Cleanup(tr.CloseIdleConnections)
	h := New(Options{Transport: tr, Picker: &ordered{targets: []*balancer.Target{target(t, be.URL)}}})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, &Exchange{RequestID: "req-h2"})
	}))
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	t.Cleanup(srv.Close)

	var cp http.Protocols
	cp.SetUnencryptedHTTP2(true)
	ctr := &http.Transport{Protocols: &cp}
	t.Cleanup(ctr.CloseIdleConnections)
	c := &http.Client{Transport: ctr, Timeout: 10 * time.Second}

	tests := []struct {
		name     string
		method   string
		body     io.Reader
		length   int64
		wantCL   int64
		wantBody string
	}{
		{name: "no body", method: http.MethodGet, wantCL: 0},
		{name: "declared length", method: http.MethodPost, body: strings.NewReader("abc"), length: 3, wantCL: 3, wantBody: "abc"},
		{name: "unknown length", method: http.MethodPost, body: io.MultiReader(strings.NewReader("de"), strings.NewReader("f")), length: -1, wantCL: -1, wantBody: "def"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+"/", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tt.length
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.ProtoMajor != 2 || res.StatusCode != http.StatusOK {
				t.Fatalf("response = %s %d, want HTTP/2.0 200", res.Proto, res.StatusCode)
			}
			var s seen
			select {
			case s = <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("upstream saw no request within 10s")
			}
			if s.body != tt.wantBody {
				t.Errorf("upstream body = %q, want %q", s.body, tt.wantBody)
			}
			if s.cl != tt.wantCL {
				t.Errorf("upstream ContentLength = %d, want %d", s.cl, tt.wantCL)
			}
			if tt.wantCL == 0 && len(s.te) > 0 {
				t.Errorf("upstream Transfer-Encoding = %v, want none", s.te)
			}
		})
	}
}
