package cors

import (
	"net/http"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

func newPolicy(t *testing.T, cfg config.CORS) *Policy {
	t.Helper()
	if cfg.MaxAge == 0 {
		cfg.MaxAge = config.Duration(10 * time.Minute)
	}
	p, err := New(&cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return p
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	base := config.CORS{
		Origins:     []string{"https://app.example.com", "https://*.example.org"},
		Methods:     []string{"GET", "PUT", "DELETE"},
		Headers:     []string{"Authorization", "Content-Type"},
		Credentials: true,
	}
	tests := []struct {
		name       string
		cfg        config.CORS
		origin     string
		method     string
		reqHeaders string
		wantStatus int
		wantACAO   string
		wantACAH   string
	}{
		{name: "allowed exact origin", cfg: base, origin: "https://app.example.com", method: "PUT", reqHeaders: "authorization, content-type", wantStatus: 204, wantACAO: "https://app.example.com", wantACAH: "authorization, content-type"},
		{name: "wildcard subdomain", cfg: base, origin: "https://a.b.example.org", method: "DELETE", wantStatus: 204, wantACAO: "https://a.b.example.org"},
		{name: "wildcard never matches the bare domain", cfg: base, origin: "https://example.org", method: "GET", wantStatus: 403},
		{name: "wildcard suffix trick", cfg: base, origin: "https://evilexample.org", method: "GET", wantStatus: 403},
		{name: "wildcard scheme must match", cfg: base, origin: "http://a.example.org", method: "GET", wantStatus: 403},
		{name: "wildcard with port mismatch", cfg: base, origin: "https://a.example.org:8443", method: "GET", wantStatus: 403},
		{name: "unknown origin", cfg: base, origin: "https://evil.test", method: "GET", wantStatus: 403},
		{name: "method not allowed", cfg: base, origin: "https://app.example.com", method: "PATCH", wantStatus: 403},
		{name: "safelisted method always allowed", cfg: base, origin: "https://app.example.com", method: "POST", wantStatus: 204, wantACAO: "https://app.example.com"},
		{name: "header not allowed", cfg: base, origin: "https://app.example.com", method: "GET", reqHeaders: "x-secret", wantStatus: 403},
		{name: "any header", cfg: config.CORS{Origins: []string{"*"}, Headers: []string{"*"}}, origin: "https://x.test", method: "GET", reqHeaders: "x-anything", wantStatus: 204, wantACAO: "*", wantACAH: "x-anything"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tc.cfg)
			h := http.Header{}
			h.Set("Origin", tc.origin)
			h.Set("Access-Control-Request-Method", tc.method)
			if tc.reqHeaders != "" {
				h.Set("Access-Control-Request-Headers", tc.reqHeaders)
			}
			a := p.Apply(&policy.Request{Method: "OPTIONS", Header: h, RespHeader: http.Header{}})
			if a == nil {
				t.Fatalf("Apply(preflight) = nil, want status %d", tc.wantStatus)
			}
			if a.Status != tc.wantStatus {
				t.Fatalf("Apply(preflight) status = %d (%s), want %d", a.Status, a.Detail, tc.wantStatus)
			}
			if tc.wantStatus != 204 {
				return
			}
			if !a.NoBody {
				t.Error("NoBody = false, want true")
			}
			if got := a.Header["Access-Control-Allow-Origin"]; got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
			}
			if got := a.Header["Access-Control-Allow-Headers"]; got != tc.wantACAH {
				t.Errorf("Access-Control-Allow-Headers = %q, want %q", got, tc.wantACAH)
			}
			if got := a.Header["Access-Control-Max-Age"]; got != "600" {
				t.Errorf("Access-Control-Max-Age = %q, want 600", got)
			}
			if got, want := a.Header["Access-Control-Allow-Credentials"], map[bool]string{true: "true"}[tc.cfg.Credentials]; got != want {
				t.Errorf("Access-Control-Allow-Credentials = %q, want %q", got, want)
			}
		})
	}
}

func TestSimpleRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        config.CORS
		method     string
		origin     string
		wantACAO   string
		wantVary   bool
		wantExpose string
	}{
		{name: "allowed origin echoed", cfg: config.CORS{Origins: []string{"https://app.example.com"}, Expose: []string{"X-Request-Id"}}, method: "GET", origin: "https://app.example.com", wantACAO: "https://app.example.com", wantVary: true, wantExpose: "X-Request-Id"},
		{name: "unknown origin gets no CORS headers but Vary", cfg: config.CORS{Origins: []string{"https://app.example.com"}}, method: "GET", origin: "https://evil.test", wantVary: true},
		{name: "star without credentials", cfg: config.CORS{Origins: []string{"*"}}, method: "POST", origin: "https://x.test", wantACAO: "*"},
		{name: "OPTIONS without request method is not a preflight", cfg: config.CORS{Origins: []string{"https://app.example.com"}}, method: "OPTIONS", origin: "https://app.example.com", wantACAO: "https://app.example.com", wantVary: true},
		{name: "no origin is not CORS", cfg: config.CORS{Origins: []string{"*"}}, method: "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tc.cfg)
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			resp := http.Header{}
			if a := p.Apply(&policy.Request{Method: tc.method, Header: h, RespHeader: resp}); a != nil {
				t.Fatalf("Apply() = %d, want nil", a.Status)
			}
			if got := resp.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
			}
			if got := resp.Get("Vary") == "Origin"; got != tc.wantVary {
				t.Errorf("Vary: Origin present = %v, want %v", got, tc.wantVary)
			}
			if got := resp.Get("Access-Control-Expose-Headers"); got != tc.wantExpose {
				t.Errorf("Access-Control-Expose-Headers = %q, want %q", got, tc.wantExpose)
			}
		})
	}
}

func TestNewRejectsStarWithCredentials(t *testing.T) {
	t.Parallel()
	if _, err := New(&config.CORS{Origins: []string{"*"}, Credentials: true}); err == nil {
		t.Fatal("New(* + credentials) error = nil, want error")
	}
}
