package observe

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
)

// TestCloseLeavesNoGoroutines is deliberately not parallel: Go runs sequential
// top-level tests while the parallel ones are paused, so the goroutine count is ours.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	sink := newSpanSink()
	srv := otlpHTTPReceiver(t, sink)
	before := runtime.NumGoroutine()

	on, one := true, 1.0
	cfg := config.Observe{
		Tracing:   &config.Tracing{OTLPEndpoint: srv.URL, Protocol: config.TracingHTTP, SampleRatio: &one},
		AccessLog: &config.AccessLog{Enabled: &on, Output: filepath.Join(t.TempDir(), "a.log"), Format: config.AccessLogJSON, Buffer: 16},
	}
	o, err := New(cfg, Options{})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	request(t, o, http.Header{}, o.Metrics.Route("r", "u"), 200, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if spans, _, _ := sink.snapshot(); len(spans) != 1 {
		t.Errorf("spans exported by Close = %d, want 1", len(spans))
	}
	srv.CloseClientConnections() // the exporter's idle keep-alive connection is not ours
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines after Close = %d, want <= %d\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
