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
