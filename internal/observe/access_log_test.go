package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gantrygw/gantry/internal/config"
)

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func accessLogCfg(format string, buffer int) *config.AccessLog {
	on := true
	return &config.AccessLog{Enabled: &on, Output: config.AccessLogStdout, Format: format, Buffer: buffer}
}

func testRecord(m *Metrics) *Record {
	tc, _ := ParseTraceparent(validTP)
	return &Record{
		Start:            time.Date(2026, 11, 26, 20, 1, 2, 345678000, time.UTC),
		RequestID:        "req-1",
		Trace:            tc,
		ClientIP:         netip.MustParseAddr("192.0.2.7"),
		Consumer:         "alice",
		Method:           "GET",
		Host:             "api.example.com",
		Path:             "/orders/\"42\"\n\xff",
		Route:            m.Route("orders", "shop"),
		Target:           "10.0.0.1:8080",
		Status:           502,
		BytesIn:          12,
		BytesOut:         345,
		Duration:         12345678 * time.Nanosecond,
		UpstreamDuration: 10 * time.Millisecond,
		Retries:          2,
		Reason:           "upstream_connect_failed",
	}
}

func closeLog(t *testing.T, l *AccessLog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	select {
	case <-l.done:
	default:
		t.Fatalf("writer goroutine still running after Close")
	}
}

func TestAccessLogJSON(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l, err := NewAccessLog(accessLogCfg(config.AccessLogJSON, 16), AccessLogOptions{Writer: &out})
	if err != nil {
		t.Fatalf("NewAccessLog() error = %v", err)
	}
	l.Log(testRecord(NewMetrics("t")))
	l.Log(&Record{Method: "GET"}) // mostly empty: still every field
	closeLog(t, l)

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out.String())
	}
	wantKeys := []string{"time", "request_id", "trace_id", "client_ip", "consumer", "method", "host", "path",
		"route", "upstream", "target", "status", "bytes_in", "bytes_out", "duration_ms", "upstream_ms", "retries", "reason"}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if len(got) != len(wantKeys) {
			t.Errorf("line %d has %d fields, want %d: %s", i, len(got), len(wantKeys), line)
		}
		for _, k := range wantKeys {
			if _, ok := got[k]; !ok {
				t.Errorf("line %d lacks %q: %s", i, k, line)
			}
		}
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &got)
	want := map[string]any{
		"time": "2026-11-26T20:01:02.345678Z", "request_id": "req-1", "trace_id": validTID,
		"client_ip": "192.0.2.7", "consumer": "alice", "method": "GET", "host": "api.example.com",
		"path": "/orders/\"42\"\n\ufffd", "route": "orders", "upstream": "shop", "target": "10.0.0.1:8080",
		"status": 502.0, "bytes_in": 12.0, "bytes_out": 345.0, "duration_ms": 12.346, "upstream_ms": 10.0,
		"retries": 2.0, "reason": "upstream_connect_failed",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}

func TestAccessLogText(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l, err := NewAccessLog(accessLogCfg(config.AccessLogText, 16), AccessLogOptions{Writer: &out})
	if err != nil {
		t.Fatalf("NewAccessLog() error = %v", err)
	}
	l.Log(testRecord(NewMetrics("t")))
	closeLog(t, l)
	line := out.String()
	for _, want := range []string{
		"time=2026-11-26T20:01:02.345678Z ", "request_id=req-1 ", "trace_id=" + validTID + " ",
		"client_ip=192.0.2.7 ", `path="/orders/\"42\"\n\ufffd" `, "route=orders ", "status=502 ",
		"duration_ms=12.346 ", "retries=2 ", "reason=upstream_connect_failed\n",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("text line lacks %q:\n%s", want, line)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("text record spans %d lines, want 1", strings.Count(line, "\n"))
	}
}

func TestAppendJSONStringValid(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "\x00\x1f\"\\", "ünïcode ✓", "\xff\xfe", "a\u2028b\u2029", "<script>"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendJSONString(%q) = %s, not JSON: %v", s, b, err)
			continue
		}
		if want := string([]rune(s)); got != want { // one U+FFFD per invalid byte
			t.Errorf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
		}
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	started chan struct{}
	once    sync.Once
	release chan struct{}
	n       int
	mu      sync.Mutex
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	w.mu.Lock()
	w.n += bytes.Count(p, []byte("\n"))
	w.mu.Unlock()
	return len(p), nil
}

func TestAccessLogDropsWhenFull(t *testing.T) {
	t.Parallel()
	const buffer = 8
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped_total", Help: "h"})
	l, err := NewAccessLog(accessLogCfg(config.AccessLogJSON, buffer), AccessLogOptions{Writer: w, Dropped: dropped})
	if err != nil {
		t.Fatalf("NewAccessLog() error = %v", err)
	}
	rec := &Record{Method: "GET", Status: 200}
	l.Log(rec)
	select { // the writer flushed the first line and is now stuck in Write
	case <-w.started:
	case <-time.After(5 * time.Second):
		t.Fatal("writer never called Write")
	}
	const more = 100
	done := make(chan struct{})
	go func() {
		for range more {
			l.Log(rec) // must never block
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Log blocked on a stuck writer")
	}
	// buffer records fit in the queue; the rest are dropped.
	if got := l.Dropped(); got != more-buffer {
		t.Errorf("Dropped() = %d, want %d", got, more-buffer)
	}
	if got := testutil.ToFloat64(dropped); got != more-buffer {
		t.Errorf("dropped counter = %v, want %d", got, more-buffer)
	}
	close(w.release)
	closeLog(t, l)
	if w.n != 1+buffer {
		t.Errorf("lines written = %d, want %d", w.n, 1+buffer)
	}
}

func TestAccessLogCloseFlushesAll(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	const n = 5000
	l, err := NewAccessLog(accessLogCfg(config.AccessLogJSON, n), AccessLogOptions{Writer: &out, FlushInterval: time.Hour})
	if err != nil {
		t.Fatalf("NewAccessLog() error = %v", err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				l.Log(&Record{RequestID: "r", Status: 200 + g, Retries: i})
			}
		})
	}
	wg.Wait()
	closeLog(t, l)
	if got := strings.Count(out.String(), "\n"); got != n {
		t.Errorf("lines after Close = %d, want %d (dropped %d)", got, n, l.Dropped())
	}
	l.Log(&Record{}) // after Close: dropped, not a panic
	if got := l.Dropped(); got != 1 {
		t.Errorf("Dropped() after logging past Close = %d, want 1", got)
	}
	if err := l.Reopen(); err != ErrClosed {
		t.Errorf("Reopen() after Close = %v, want ErrClosed", err)
	}
}

// TestAccessLogFlushesWhenIdle: a line logged when nothing follows is written after
// an idle poll, not only at the FlushInterval tick (an hour here).
func TestAccessLogFlushesWhenIdle(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	l, err := NewAccessLog(accessLogCfg(config.AccessLogJSON, 16), AccessLogOptions{Writer: &out, FlushInterval: time.Hour})
	if err != nil {
		t.Fatalf("NewAccessLog() error = %v", err)
	}
	defer closeLog(t, l)
	l.Log(&Record{RequestID: "idle-1"})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "idle-1") && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "idle-1") {
		t.Fatalf("line not written without Close within 5s")
	}
}

// countingWriter counts the writes it receives.
type countingWriter struct {
	syncBuffer
	writes atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.syncBuffer.Write(p)
}

// TestAccessLogBatchesUnderLoad: under steady traffic (every poll finds a new line)
// the writer gathers lines in its buffer instead of writing at every poll that empties
// the ring (which cost the feature route about 5 µs per request); the first poll that
// finds nothing writes them. The test makes the writer's polls itself, in order, on a
// log whose writer goroutine is not started.
func TestAccessLogBatchesUnderLoad(t *testing.T) {
	t.Parallel()
	out := &countingWriter{}
	l, err := newAccessLog(accessLogCfg(config.AccessLogJSON, 1024), AccessLogOptions{Writer: out})
	if err != nil {
		t.Fatalf("newAccessLog() error = %v", err)
	}
	const lines = 100 // about 25 KB: within the 64 KiB buffer
	for i := range lines {
		l.Log(&Record{RequestID: fmt.Sprintf("load-%d", i)})
		if !l.poll() {
			t.Fatalf("poll %d found nothing, want line %d", i, i)
		}
		if n := out.writes.Load(); n != 0 {
			t.Fatalf("%d writes after poll %d, want none while every poll finds a new line", n, i)
		}
	}
	if l.poll() {
		t.Fatal("a poll after the last line found something")
	}
	if n := out.writes.Load(); n != 1 {
		t.Errorf("%d writes after a poll found nothing, want 1", n)
	}
	if got := strings.Count(out.String(), "load-"); got != lines {
		t.Errorf("%d of %d lines written after a poll found nothing new", got, lines)
	}
}

func TestAccessLogFileReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cfg := accessLogCfg(config.AccessLogJSON, 64)
	cfg.Output = path
	var errs syncBuffer
	l, err := NewAccessLog(cfg, AccessLogOptions{Logger: slog.New(slog.NewTextHandler(&errs, nil))})
	if err != nil {
		t.Fatalf("NewAccessLog() error = %v", err)
	}
	l.Log(&Record{RequestID: "before"})
	// Rotate: move the file away, then Reopen; queued lines go to the old file.
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatalf("Reopen() error = %v", err)
	}
	l.Log(&Record{RequestID: "after"})
	closeLog(t, l)

	for _, c := range []struct {
		file string
		want string
		not  string
	}{
		{file: rotated, want: `"request_id":"before"`, not: "after"},
		{file: path, want: `"request_id":"after"`, not: "before"},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) || strings.Contains(string(b), c.not) {
			t.Errorf("%s = %q, want %s and not %s", filepath.Base(c.file), b, c.want, c.not)
		}
	}
	if errs.String() != "" {
		t.Errorf("logged errors: %s", errs.String())
	}
}

func TestAccessLogOpenError(t *testing.T) {
	t.Parallel()
	cfg := accessLogCfg(config.AccessLogJSON, 4)
	cfg.Output = filepath.Join(t.TempDir(), "missing-dir", "access.log")
	if _, err := NewAccessLog(cfg, AccessLogOptions{}); err == nil {
		t.Fatalf("NewAccessLog(%s) error = nil, want an open error", cfg.Output)
	}
	off := false
	if _, err := NewAccessLog(&config.AccessLog{Enabled: &off}, AccessLogOptions{}); err != ErrAccessLogOff {
		t.Fatalf("NewAccessLog(disabled) error = %v, want ErrAccessLogOff", err)
	}
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)),
		time.Unix(0, 0),
	} {
		want := tm.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		if got := string(appendTime(nil, tm)); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	rec := testRecord(NewMetrics("b"))
	var e logEntry
	fillEntry(&e, rec)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendJSON(buf[:0], &e)
	}
}

// BenchmarkEncodeSlogJSON is what slog's JSON handler costs for the same line; the
// access log does not use it (see AccessLog).
func BenchmarkEncodeSlogJSON(b *testing.B) {
	rec := testRecord(NewMetrics("b"))
	h := slog.NewJSONHandler(io.Discard, nil)
	lg := slog.New(h)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		lg.LogAttrs(ctx, slog.LevelInfo, "",
			slog.String("request_id", rec.RequestID), slog.String("trace_id", validTID),
			slog.String("client_ip", rec.ClientIP.String()), slog.String("consumer", rec.Consumer),
			slog.String("method", rec.Method), slog.String("host", rec.Host), slog.String("path", rec.Path),
			slog.String("route", "orders"), slog.String("upstream", "shop"), slog.String("target", rec.Target),
			slog.Int("status", rec.Status), slog.Int64("bytes_in", rec.BytesIn), slog.Int64("bytes_out", rec.BytesOut),
			slog.Float64("duration_ms", float64(rec.Duration)/1e6), slog.Float64("upstream_ms", float64(rec.UpstreamDuration)/1e6),
			slog.Int("retries", rec.Retries), slog.String("reason", rec.Reason))
	}
}

// BenchmarkAccessLogWriter measures the writer side: format and buffered write.
func BenchmarkAccessLogWriter(b *testing.B) {
	rec := testRecord(NewMetrics("b"))
	l := &AccessLog{format: config.AccessLogJSON, bw: bufio.NewWriterSize(io.Discard, 64<<10), buf: make([]byte, 0, 1024)}
	var e logEntry
	fillEntry(&e, rec)
	b.ReportAllocs()
	for b.Loop() {
		l.write(&e)
	}
}

// BenchmarkLogEnqueue is the request side of the access log alone: copy the record and
// hand it over, with a receiver that keeps the queue from filling (no drops), so the
// number is the cost a request pays, not the cheaper drop path.
func BenchmarkLogEnqueue(b *testing.B) {
	l := &AccessLog{q: newRing(config.DefaultAccessLogBuffer), wake: make(chan struct{}, 1)}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var e logEntry
		for {
			select {
			case <-stop:
				return
			default:
			}
			for l.q.pop(&e) {
			}
			runtime.Gosched()
		}
	}()
	rec := testRecord(NewMetrics("b"))
	b.ReportAllocs()
	for b.Loop() {
		l.Log(rec)
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}
