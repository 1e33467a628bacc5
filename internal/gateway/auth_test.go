package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// TestRoutePolicies drives auth and authorize end to end on both engines: 401 without
// or with a bad credential, 403 with a valid token lacking the scope, 200 with it; the
// consumer reaches the backend in X-Consumer and a client-sent X-Consumer never does.
func TestRoutePolicies(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-test-only"
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "orders"})
	for _, engine := range []string{"fast", "standard"} {
		t.Run(engine, func(t *testing.T) {
			g := start(t, parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0", engine: %s }
upstreams:
  orders: { targets: [%q] }
routes:
  - name: orders
    match: { path: "/orders/*" }
    upstream: orders
    auth:
      jwt:
        issuer: https://idp.test
        audiences: [orders-api]
        algorithms: [HS256]
        keys: [{ secret: %q }]
    authorize: { scopes: [orders:read] }
`, engine, be.URL, secret)))
			token := func(scope string, exp time.Duration) string {
				s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
					"iss": "https://idp.test", "aud": "orders-api", "sub": "alice", "scope": scope,
					"iat": time.Now().Unix(), "exp": time.Now().Add(exp).Unix(),
				}).SignedString([]byte(secret))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			tests := []struct {
				name         string
				authz        string
				want         int
				wantConsumer string
				challenge    bool
			}{
				{name: "no credential", want: 401, challenge: true},
				{name: "expired token", authz: "Bearer " + token("orders:read", -time.Hour), want: 401, challenge: true},
				{name: "bad signature", authz: "Bearer " + token("orders:read", time.Hour) + "x", want: 401, challenge: true},
				// RFC 6750 section 3.1: a 403 for a missing scope still names the scope.
				{name: "missing scope", authz: "Bearer " + token("profile", time.Hour), want: 403, challenge: true},
				{name: "allowed", authz: "Bearer " + token("orders:read profile", time.Hour), want: 200, wantConsumer: "alice"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					req, _ := http.NewRequest("GET", "http://"+g.Addr("web").String()+"/orders/1", nil)
					req.Header.Set("X-Consumer", "mallory") // spoofed: must never reach the backend
					if tc.authz != "" {
						req.Header.Set("Authorization", tc.authz)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.want {
						t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.want, body)
					}
					got := resp.Header.Get("WWW-Authenticate")
					if (got != "") != tc.challenge {
						t.Fatalf("WWW-Authenticate = %q, want present=%v", got, tc.challenge)
					}
					if tc.want == 403 && !strings.Contains(got, `error="insufficient_scope"`) {
						t.Fatalf("WWW-Authenticate = %q, want error=\"insufficient_scope\"", got)
					}
					if tc.want != 200 {
						return
					}
					var e testbackend.Echo
					if err := json.Unmarshal(body, &e); err != nil {
						t.Fatalf("backend answer %s: %v", body, err)
					}
					if got := e.Headers.Values("X-Consumer"); len(got) != 1 || got[0] != tc.wantConsumer {
						t.Fatalf("backend X-Consumer = %q, want [%q] (the spoofed value must be gone)", got, tc.wantConsumer)
					}
				})
			}
		})
	}
}

// TestRouteNetworkPolicies drives the route-level ip_filter and CORS policies end to end
// on both engines: a denied client gets 403 and never reaches the backend; a CORS
// preflight is answered by the gateway (204, no backend request); a simple request from
// an allowed origin gets the CORS headers, one from another origin does not.
func TestRouteNetworkPolicies(t *testing.T) {
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "api"})
	for _, engine := range []string{"fast", "standard"} {
		t.Run(engine, func(t *testing.T) {
			g := start(t, parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0", engine: %s }
upstreams:
  api: { targets: [%q] }
routes:
  - { name: internal, match: { path: "/internal/*" }, upstream: api, ip_filter: { deny: ["127.0.0.0/8"] } }
  - name: public
    match: { path: "/public/*" }
    upstream: api
    cors: { origins: ["https://shop.test"], methods: [GET, POST], headers: [Content-Type], max_age: 10m }
`, engine, be.URL)))
			base := "http://" + g.Addr("web").String()
			tests := []struct {
				name        string
				method      string
				path        string
				header      map[string]string
				want        int
				wantBackend bool
				wantACAO    string
			}{
				{name: "ip denied", method: "GET", path: "/internal/x", want: 403},
				{name: "preflight answered by the gateway", method: "OPTIONS", path: "/public/x",
					header: map[string]string{"Origin": "https://shop.test", "Access-Control-Request-Method": "POST"}, want: 204, wantACAO: "https://shop.test"},
				{name: "simple request, allowed origin", method: "GET", path: "/public/x",
					header: map[string]string{"Origin": "https://shop.test"}, want: 200, wantBackend: true, wantACAO: "https://shop.test"},
				{name: "simple request, other origin", method: "GET", path: "/public/x",
					header: map[string]string{"Origin": "https://evil.test"}, want: 200, wantBackend: true},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					before := be.Requests()
					req, _ := http.NewRequest(tc.method, base+tc.path, nil)
					for k, v := range tc.header {
						req.Header.Set(k, v)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.want {
						t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
					}
					if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantACAO {
						t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, tc.wantACAO)
					}
					if reached := be.Requests() > before; reached != tc.wantBackend {
						t.Fatalf("backend reached = %v, want %v", reached, tc.wantBackend)
					}
				})
			}
		})
	}
}
