package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/gateway"
)

// counted is a real loopback backend that names itself and counts its requests.
type counted struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

func newBackend(t *testing.T, name string, delay time.Duration, status int) *counted {
	t.Helper()
	b := &counted{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if delay > 0 {
			time.Sleep(delay) // the backend's own latency, not synchronisation
		}
		w.Header().Set("X-Backend", name)
		if r.URL.Path == "/health" {
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *counted) target() string { return b.URL }

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	return cfg
}

func startGateway(t *testing.T, cfg *config.Config) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(cfg, gateway.Options{Logger: quiet(), Version: "v0.test"})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := g.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g
}

// startAdmin serves an admin Server for o on a loopback port and returns its base URL.
func startAdmin(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	s := New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve() = %v, want http.ErrServerClosed", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

var client = &http.Client{Timeout: 10 * time.Second}

// call does one admin request and decodes a JSON answer into out (when not nil).
func call(t *testing.T, method, url, token, body string, out any) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func twoTargets(a, b string, extra string) string {
	return fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop:
    targets: ["%s", "%s"]
routes:
  - name: shop
    match: { path: "/shop/*" }
    upstream: shop
%s`, a, b, extra)
}
