package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestDashboardFilesAreLocal(t *testing.T) {
	t.Parallel()
	// No CDN: nothing the page loads may come from another origin.
	remote := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?https?:`)
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		b, err := fs.ReadFile(Files(), name)
		if err != nil {
			t.Fatalf("dashboard file %s: %v", name, err)
		}
		if m := remote.Find(b); m != nil {
			t.Errorf("%s loads from another origin (%q); the dashboard must work offline", name, m)
		}
	}
}

func TestDashboardHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, wantType string
		wantStatus           int
	}{
		{name: "page", path: "/", wantType: "text/html; charset=utf-8", wantStatus: 200},
		{name: "script", path: "/app.js", wantType: "text/javascript; charset=utf-8", wantStatus: 200},
		{name: "style", path: "/style.css", wantType: "text/css; charset=utf-8", wantStatus: 200},
		{name: "missing", path: "/nope.js", wantStatus: 404},
	}
	srv := httptest.NewServer(Dashboard())
	t.Cleanup(srv.Close)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || (tc.wantType != "" && resp.Header.Get("Content-Type") != tc.wantType) {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.wantStatus, tc.wantType)
			}
			if resp.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("GET %s has no Content-Security-Policy", tc.path)
			}
		})
	}
}
