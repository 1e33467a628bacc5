// Package secureapi_test checks that the secure-api example's gantry.yaml uses the
// security keys gantry defines and behaves as its README says: the README's scenarios
// run against policies built from the file.
package secureapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/policy/auth"
	"github.com/gantrygw/gantry/internal/policy/authz"
	"github.com/gantrygw/gantry/internal/policy/cors"
	"github.com/gantrygw/gantry/internal/policy/ipfilter"
	"github.com/gantrygw/gantry/internal/policy/limits"
)

const (
	jwtSecret     = "example-secret-example-secret-123456"
	reportingKey  = "rep-0123456789abcdef0123"
	billingKey    = "bill-0123456789abcdef0123"
	opsPassword   = "correct horse battery staple"
	clientAddress = "127.0.0.1:50000"
)

// load reads gantry.yaml with ${VAR} expanded from a fixed map and decodes it strictly
// (unknown keys fail), then runs the security defaults and validation.
func load(t *testing.T) *config.Config {
	t.Helper()
	raw, err := os.ReadFile("gantry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(billingKey))
	hash, err := bcrypt.GenerateFromPassword([]byte(opsPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"JWT_SECRET":             jwtSecret,
		"REPORTING_API_KEY":      reportingKey,
		"BILLING_API_KEY_SHA256": hex.EncodeToString(sum[:]),
		"OPS_PASSWORD_BCRYPT":    string(hash),
	}
	expanded := os.Expand(string(raw), func(k string) string {
		v, ok := env[k]
		if !ok {
			t.Fatalf("gantry.yaml uses ${%s}, unknown to the test", k)
		}
		return v
	})
	var c config.Config
	dec := yaml.NewDecoder(strings.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode gantry.yaml: %v", err)
	}
	if ps := config.CheckSecurity(&c); len(ps) > 0 {
		t.Fatalf("gantry.yaml security problems: %v", ps)
	}
	return &c
}

// chain builds a route's policies in the gateway's fixed order.
func chain(t *testing.T, c *config.Config, name string) policy.Chain {
	t.Helper()
	var r *config.Route
	for _, x := range c.Routes {
		if x.Name == name {
			r = x
		}
	}
	if r == nil {
		t.Fatalf("route %q not in gantry.yaml", name)
	}
	var steps []policy.Step
	add := func(o policy.Order, p policy.Policy, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("route %s: build: %v", name, err)
		}
		steps = append(steps, policy.Step{Order: o, Policy: p})
	}
	if r.Limits != nil {
		p, err := limits.New(r.Limits)
		add(policy.OrderLimits, p, err)
	}
	if r.IPFilter != nil {
		p, err := ipfilter.New(r.IPFilter)
		add(policy.OrderIPFilter, p, err)
	}
	if r.CORS != nil {
		p, err := cors.New(r.CORS)
		add(policy.OrderCORS, p, err)
	}
	if r.Auth != nil {
		p, err := auth.New(r.Auth, c.Consumers, auth.Options{ConsumerHeader: c.Security.ConsumerHeader})
		if err == nil {
			t.Cleanup(p.Close)
		}
		add(policy.OrderAuth, p, err)
	}
	if r.Authz != nil {
		p, err := authz.New(r.Authz)
		add(policy.OrderAuthz, p, err)
	}
	return policy.NewChain(steps)
}

// mint runs the README's mint-jwt.sh when sh and openssl exist, else signs the same
// claims in Go, so the test checks the script where it can and the config everywhere.
func mint(t *testing.T, sub, scope, email string) string {
	return mintWith(t, jwtSecret, sub, scope, email)
}

func mintWith(t *testing.T, secret, sub, scope, email string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err == nil {
		cmd := exec.Command("sh", "./mint-jwt.sh", sub, scope, email)
		cmd.Env = append(os.Environ(), "JWT_SECRET="+secret)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("mint-jwt.sh: %v", err)
		}
		return strings.TrimSpace(out.String())
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://idp.example.com", "aud": "orders-api", "sub": sub, "scope": scope, "email": email,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestReadmeScenarios(t *testing.T) {
	t.Parallel()
	c := load(t)
	chains := map[string]policy.Chain{}
	for _, name := range []string{"orders-read", "orders-write", "admin"} {
		chains[name] = chain(t, c, name)
	}
	readToken := mint(t, "alice", "orders:read", "alice@example.com")
	noScopeToken := mint(t, "alice", "profile", "")
	forged := mintWith(t, "not-the-secret-not-the-secret-123456", "alice", "orders:read", "")
	basicOps := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+opsPassword))

	tests := []struct {
		name         string
		route        string
		method       string
		client       string
		length       int64
		header       []string
		wantStatus   int // 0: passes to the upstream
		wantConsumer string
		wantHeader   [2]string // upstream header that must be set
		wantDetail   string
	}{
		{name: "jwt with scope", route: "orders-read", method: "GET", header: []string{"Authorization", "Bearer " + readToken},
			wantConsumer: "alice", wantHeader: [2]string{"X-User-Email", "alice@example.com"}},
		{name: "jwt without scope", route: "orders-read", method: "GET", header: []string{"Authorization", "Bearer " + noScopeToken}, wantStatus: 403, wantConsumer: "alice"},
		{name: "api key with scope", route: "orders-read", method: "GET", header: []string{"X-Api-Key", reportingKey}, wantConsumer: "reporting"},
		{name: "hashed api key", route: "orders-write", method: "POST", length: 10, header: []string{"X-Api-Key", billingKey}, wantConsumer: "billing"},
		{name: "api key lacking write scope", route: "orders-write", method: "POST", length: 10, header: []string{"X-Api-Key", reportingKey}, wantStatus: 403, wantConsumer: "reporting"},
		{name: "body too large", route: "orders-write", method: "POST", length: 100000, header: []string{"X-Api-Key", billingKey}, wantStatus: 413},
		{name: "forged jwt", route: "orders-read", method: "GET", header: []string{"Authorization", "Bearer " + forged}, wantStatus: 401, wantDetail: "token signature invalid"},
		{name: "no credentials", route: "orders-read", method: "GET", wantStatus: 401},
		{name: "spoofed consumer header", route: "orders-read", method: "GET", header: []string{"X-Consumer", "billing"}, wantStatus: 401},
		{name: "wrong api key", route: "orders-read", method: "GET", header: []string{"X-Api-Key", "guess-guess-guess-guess"}, wantStatus: 401},
		{name: "cors preflight", route: "orders-read", method: "OPTIONS", header: []string{"Origin", "https://m.shop.example.com", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization"}, wantStatus: 204},
		{name: "admin basic", route: "admin", method: "GET", header: []string{"Authorization", basicOps}, wantConsumer: "ops"},
		{name: "admin api key is not a method there", route: "admin", method: "GET", header: []string{"X-Api-Key", reportingKey}, wantStatus: 401},
		{name: "admin from outside", route: "admin", method: "GET", client: "192.0.2.10:40000", header: []string{"Authorization", basicOps}, wantStatus: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for i := 0; i+1 < len(tc.header); i += 2 {
				h.Set(tc.header[i], tc.header[i+1])
			}
			client := tc.client
			if client == "" {
				client = clientAddress
			}
			r := &policy.Request{Method: tc.method, Path: "/api/orders", Header: h, RespHeader: http.Header{},
				Client: netip.MustParseAddrPort(client), ContentLength: tc.length}
			a := chains[tc.route].Apply(r)
			got := 0
			if a != nil {
				got = a.Status
			}
			if got != tc.wantStatus {
				detail := ""
				if a != nil {
					detail = a.Detail
				}
				t.Fatalf("status = %d (%s), want %d", got, detail, tc.wantStatus)
			}
			if tc.wantDetail != "" && a.Detail != tc.wantDetail {
				t.Fatalf("detail = %q, want %q", a.Detail, tc.wantDetail)
			}
			if got == 401 && a.Header["WWW-Authenticate"] == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			// Authenticated but forbidden requests (403) keep the consumer: they never reach
			// the upstream, but logs and metrics see who was refused.
			if c := h.Get("X-Consumer"); c != tc.wantConsumer {
				t.Fatalf("X-Consumer upstream = %q, want %q", c, tc.wantConsumer)
			}
			if tc.wantHeader[0] != "" && h.Get(tc.wantHeader[0]) != tc.wantHeader[1] {
				t.Fatalf("%s upstream = %q, want %q", tc.wantHeader[0], h.Get(tc.wantHeader[0]), tc.wantHeader[1])
			}
		})
	}
}
