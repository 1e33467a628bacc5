package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/gantrygw/gantry/internal/h2"
)

// TestH2ServerOnEngineListener: an h2c prior-knowledge connection to an engine
// listener is served by internal/h2 (its SETTINGS), and Shutdown sends GOAWAY while
// letting the stream in flight finish with its full response.
func TestH2ServerOnEngineListener(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	defer be.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	g, err := New(parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  app: { targets: [%q] }
routes:
  - { name: all, upstream: app }
`, be.URL)), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	gw := g.Addr("web").String()

	// A raw connection: the server's first frame is SETTINGS, with internal/h2's window.
	raw, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(raw, http2.ClientPreface)
	fr := http2.NewFramer(raw, raw)
	fr.WriteSettings()
	f, err := fr.ReadFrame()
	sf, ok := f.(*http2.SettingsFrame)
	if err != nil || !ok {
		t.Fatalf("first frame = %v, %v, want SETTINGS", f, err)
	}
	if v, _ := sf.Value(http2.SettingInitialWindowSize); v != h2.DefaultStreamWindow {
		t.Fatalf("SETTINGS_INITIAL_WINDOW_SIZE = %d, want %d (internal/h2)", v, h2.DefaultStreamWindow)
	}

	c := h2cClient()
	if resp, err := c.Get("http://" + gw + "/fast"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok /fast" {
			t.Fatalf("GET /fast = %d %q, want 200 %q", resp.StatusCode, b, "ok /fast")
		}
	}
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := c.Get("http://" + gw + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("slow request did not reach the backend")
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- g.Shutdown(ctx)
	}()
	// The raw connection (no streams) is told to go away.
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("raw connection: %v before GOAWAY", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeNo {
				t.Fatalf("GOAWAY code = %v, want NO_ERROR", ga.ErrCode)
			}
			break
		}
	}
	close(release)
	r := <-res
	if r.err != nil || r.status != 200 || r.body != "ok /slow" {
		t.Errorf("in-flight GET /slow = %d %q, %v; want 200 %q", r.status, r.body, r.err, "ok /slow")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v, want nil", err)
	}
}
