package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gantrygw/gantry/internal/config"
)

func TestStatusRoutesUpstreams(t *testing.T) {
	t.Parallel()
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	cfg := parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop:
    balance: least_request
    targets: ["http://%s", {url: "http://%s", weight: 3}]
routes:
  - name: products
    match: { hosts: [api.example.com], path: "/api/products/{id}", methods: [GET] }
    upstream: shop
    rewrite: { path: "/products/{id}" }
    ip_filter: { allow: ["127.0.0.0/8"] }
    cors: { origins: ["https://a.example.com"] }
  - name: all
    upstream: shop
`, hostport(b1), hostport(b2)))
	g, err := New(cfg, Options{Logger: quietLogger(), Version: "v9.9.9"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { g.Shutdown(t.Context()) })

	st := g.Status()
	if st.Version != "v9.9.9" || st.ConfigHash != cfg.Hash || st.ConfigHash == "" || !st.Reload.OK || st.Started.IsZero() {
		t.Errorf("Status() = %+v, want version v9.9.9, hash %s, reload ok, a start time", st, cfg.Hash)
	}
	if len(st.Listeners) != 1 || st.Listeners[0].Name != "web" || st.Listeners[0].Bound != g.Addr("web").String() || strings.HasSuffix(st.Listeners[0].Bound, ":0") {
		t.Errorf("Status().Listeners = %+v, want web bound to %s", st.Listeners, g.Addr("web"))
	}

	routes := g.Routes()
	want := []RouteInfo{
		{Listener: "web", Name: "products", Match: "hosts=api.example.com path=/api/products/{id} methods=GET", Upstream: "shop", Policies: []string{"ip_filter", "cors"}, Rewrite: "path=/products/{id}"},
		{Listener: "web", Name: "all", Match: "path=/*", Upstream: "shop", Policies: []string{}},
	}
	if len(routes) != len(want) {
		t.Fatalf("Routes() = %+v, want %+v", routes, want)
	}
	for i := range want {
		if !sameRouteInfo(routes[i], want[i]) {
			t.Errorf("Routes()[%d] = %+v, want %+v", i, routes[i], want[i])
		}
	}

	ups := g.Upstreams()
	if len(ups) != 1 || ups[0].Name != "shop" || ups[0].Balance != "least_request" || len(ups[0].Targets) != 2 {
		t.Fatalf("Upstreams() = %+v, want shop (least_request) with 2 targets", ups)
	}
	for i, tg := range ups[0].Targets {
		if tg.State != TargetHealthy || !tg.InPool {
			t.Errorf("Upstreams()[0].Targets[%d] = %+v, want healthy and in the pool", i, tg)
		}
	}
	if w := ups[0].Targets[1].Weight; w != 3 {
		t.Errorf("Upstreams()[0].Targets[1].Weight = %d, want 3", w)
	}
}

func sameRouteInfo(a, b RouteInfo) bool {
	return a.Listener == b.Listener && a.Name == b.Name && a.Match == b.Match && a.Upstream == b.Upstream &&
		slices.Equal(a.Policies, b.Policies) && a.Rewrite == b.Rewrite
}

func TestDrain(t *testing.T) {
	t.Parallel()
	b1, b2 := backend(t, "b1"), backend(t, "b2")
	g := start(t, parse(t, twoBackendConfig(hostport(b1), hostport(b2), "")))
	url := "http://" + g.Addr("web").String() + "/x"
	c := &http.Client{Timeout: 5 * time.Second}
	t1 := "http://" + hostport(b1)

	if err := g.Drain("shop", t1, true); err != nil {
		t.Fatalf("Drain(on) = %v", err)
	}
	if s := g.Upstreams()[0].Targets[0]; s.State != TargetDrained || s.InPool {
		t.Errorf("after Drain, target state = %+v, want drained and out of the pool", s)
	}
	for i := range 10 {
		if _, _, h := get(t, c, url); h.Get("X-Backend") != "b2" {
			t.Fatalf("request %d after draining b1 went to %q, want b2", i, h.Get("X-Backend"))
		}
	}
	if err := g.Drain("shop", t1, false); err != nil {
		t.Fatalf("Drain(off) = %v", err)
	}
	seen := map[string]bool{}
	for range 10 {
		_, _, h := get(t, c, url)
		seen[h.Get("X-Backend")] = true
	}
	if !seen["b1"] {
		t.Errorf("after undrain, backends seen = %v, want b1 among them", seen)
	}

	tests := []struct {
		name, upstream, target string
		want                   error
	}{
		{name: "unknown upstream", upstream: "nope", target: t1, want: ErrUnknownUpstream},
		{name: "unknown target", upstream: "shop", target: "http://127.0.0.1:1", want: ErrUnknownTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := g.Drain(tc.upstream, tc.target, true); !errors.Is(err, tc.want) {
				t.Errorf("Drain(%s, %s) = %v, want %v", tc.upstream, tc.target, err, tc.want)
			}
		})
	}
}

// secretConfig is a config with one of every kind of secret; TestConfigJSONRedacts
// checks that none of them appears in ConfigJSON.
func secretConfig(t *testing.T) (*config.Config, []string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-not-shown"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	secrets := map[string]string{
		"ADMIN_TOKEN":   "admin-token-SECRET-0001",
		"API_KEY":       "api-key-SECRET-0002",
		"API_KEY_SHA":   strings.Repeat("ab", 32),
		"PASSWORD_HASH": string(hash),
		"JWT_SECRET":    "jwt-hmac-SECRET-0003-0123456789abcdef0123456789",
		"OTLP_HEADER":   "Bearer otlp-SECRET-0004",
		"TARGET_PASS":   "target-SECRET-0005",
	}
	yaml := `
listeners:
  web: { address: "127.0.0.1:0" }
admin:
  address: "127.0.0.1:0"
  token: "${ADMIN_TOKEN}"
upstreams:
  shop:
    targets: ["http://127.0.0.1:9"]
consumers:
  robot:
    api_keys: ["${API_KEY}"]
    api_key_sha256: ["${API_KEY_SHA}"]
  ops:
    basic: { username: ops, password_hash: "${PASSWORD_HASH}" }
observe:
  tracing:
    otlp_endpoint: "http://user:${TARGET_PASS}@127.0.0.1:4318"
    headers: { Authorization: "${OTLP_HEADER}" }
routes:
  - name: hmac
    match: { path: /a/* }
    upstream: shop
    auth:
      api_key: {}
      basic: {}
      jwt:
        algorithms: [HS256]
        keys: [{ secret: "${JWT_SECRET}" }]
  - name: pem
    match: { path: /b/* }
    upstream: shop
    auth:
      jwt:
        algorithms: [EdDSA]
        keys:
          - pem: |
` + indent(pemKey, "              ")
	cfg, err := config.ParseWith("secret.yaml", []byte(yaml), config.ParseOptions{LookupEnv: func(k string) (string, bool) {
		v, ok := secrets[k]
		return v, ok
	}})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	var list []string
	for _, v := range secrets {
		list = append(list, v)
	}
	// The PEM body is a public key, but the brief treats pem as a secret too; check a
	// line of its base64.
	list = append(list, strings.Split(pemKey, "\n")[1])
	return cfg, list
}

func indent(s, pad string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(pad + line)
	}
	return b.String()
}

func TestConfigJSONRedacts(t *testing.T) {
	t.Parallel()
	cfg, secrets := secretConfig(t)
	out, err := RedactConfig(cfg)
	if err != nil {
		t.Fatalf("RedactConfig: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(string(out), s) {
			t.Errorf("RedactConfig() output contains the secret %q:\n%s", s, out)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("RedactConfig() is not JSON: %v", err)
	}
	admin, _ := doc["admin"].(map[string]any)
	if admin["token"] != Redacted || admin["address"] != "127.0.0.1:0" {
		t.Errorf("admin = %v, want token %q and the address kept", admin, Redacted)
	}
	// Non-secrets stay readable, in the YAML's shape.
	for _, want := range []string{`"read_header": "10s"`, `"username": "ops"`, `"Authorization": "[redacted]"`, `"otlp_endpoint": "http://user:[redacted]@127.0.0.1:4318"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("RedactConfig() output lacks %s:\n%s", want, out)
		}
	}
}
