package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

const goodBcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

// baseSecurityConfig is a valid config using every security section.
func baseSecurityConfig() *Config {
	sum := sha256.Sum256([]byte("bob-key-0123456789abcdef"))
	return &Config{
		Consumers: map[string]*Consumer{
			"alice": {At: At{Path: "consumers.alice"}, APIKeys: []string{"alice-key-0123456789abcdef"}, Basic: &BasicCredential{PasswordHash: goodBcrypt}},
			"bob":   {At: At{Path: "consumers.bob"}, APIKeySHA256: []string{hex.EncodeToString(sum[:])}},
		},
		Security: Security{TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1"}},
		Routes: []*Route{{
			At:       At{Path: "routes[0]"},
			Name:     "api",
			IPFilter: &IPFilter{At: At{Path: "routes[0].ip_filter"}, Allow: []string{"0.0.0.0/0"}},
			CORS:     &CORS{At: At{Path: "routes[0].cors"}, Origins: []string{"https://app.example.com", "https://*.example.org"}},
			Limits:   &RouteLimits{MaxBodyBytes: 1 << 20},
			Auth: &Auth{
				At:     At{Path: "routes[0].auth"},
				APIKey: &APIKeyAuth{},
				Basic:  &BasicAuth{},
				JWT: &JWTAuth{At: At{Path: "routes[0].auth.jwt"}, Keys: []JWTKey{
					{At: At{Path: "routes[0].auth.jwt.keys[0]"}, JWKSURL: "https://idp.example.com/jwks.json"},
					{At: At{Path: "routes[0].auth.jwt.keys[1]"}, Secret: strings.Repeat("s", 32)},
				}},
			},
			Authz: &Authz{At: At{Path: "routes[0].authorize"}, Scopes: []string{"orders:read"}, Consumers: []string{"alice"}},
		}},
	}
}

func securityProblems(c *Config) []Problem {
	defaultSecurity(c)
	var ps Problems
	validateSecurity(c, &ps)
	return ps.List
}

func TestSecurityValid(t *testing.T) {
	t.Parallel()
	c := baseSecurityConfig()
	if ps := securityProblems(c); len(ps) != 0 {
		t.Fatalf("problems = %v, want none", ps)
	}
	if c.Security.ConsumerHeader != "X-Consumer" || c.Routes[0].Auth.APIKey.Header != "X-Api-Key" ||
		c.Routes[0].Auth.JWT.ClockSkew != DefaultClockSkew || c.Routes[0].Auth.JWT.ConsumerClaim != "sub" ||
		c.Consumers["alice"].Basic.Username != "alice" || c.Routes[0].Auth.JWT.Keys[0].UnknownKIDInterval != DefaultUnknownKIDInterval {
		t.Fatalf("defaults not applied: %+v", c.Security)
	}
	algs := strings.Join(c.Routes[0].Auth.JWT.Algorithms, ",")
	if !strings.Contains(algs, "HS256") || !strings.Contains(algs, "RS256") || strings.Contains(algs, "none") {
		t.Fatalf("default algorithms = %s, want HS* and RS* (secret and JWKS configured)", algs)
	}
}

func TestSecurityDefaultAlgorithmsNoHMACWithoutSecret(t *testing.T) {
	t.Parallel()
	c := baseSecurityConfig()
	c.Routes[0].Auth.JWT.Keys = c.Routes[0].Auth.JWT.Keys[:1]
	securityProblems(c)
	if algs := strings.Join(c.Routes[0].Auth.JWT.Algorithms, ","); strings.Contains(algs, "HS") {
		t.Fatalf("default algorithms = %s, want no HS* without a secret", algs)
	}
}

func TestSecurityProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mutate   func(c *Config)
		wantPath string
		wantMsg  string
	}{
		{name: "bad trusted proxy", mutate: func(c *Config) { c.Security.TrustedProxies = []string{"10.0.0.0/33"} }, wantPath: "trusted_proxies[0]", wantMsg: "invalid CIDR"},
		{name: "bad encoded slashes", mutate: func(c *Config) { c.Security.Path.EncodedSlashes = "maybe" }, wantPath: "encoded_slashes", wantMsg: "unknown value"},
		{name: "bad consumer header", mutate: func(c *Config) { c.Security.ConsumerHeader = "X Consumer" }, wantPath: "consumer_header", wantMsg: "invalid header name"},
		{name: "empty api key from unset env", mutate: func(c *Config) { c.Consumers["alice"].APIKeys = []string{""} }, wantPath: "consumers.alice.api_keys[0]", wantMsg: "empty API key"},
		{name: "short api key", mutate: func(c *Config) { c.Consumers["alice"].APIKeys = []string{"short"} }, wantPath: "consumers.alice.api_keys[0]", wantMsg: "shorter than 16"},
		{name: "duplicate api key across consumers", mutate: func(c *Config) { c.Consumers["bob"].APIKeys = []string{"alice-key-0123456789abcdef"} }, wantPath: "consumers.bob.api_keys[0]", wantMsg: "already used by consumer \"alice\""},
		{name: "duplicate plain and hashed key", mutate: func(c *Config) { c.Consumers["alice"].APIKeys = []string{"bob-key-0123456789abcdef"} }, wantPath: "consumers.bob.api_key_sha256[0]", wantMsg: "already used"},
		{name: "bad key digest", mutate: func(c *Config) { c.Consumers["bob"].APIKeySHA256 = []string{"abc"} }, wantPath: "consumers.bob.api_key_sha256[0]", wantMsg: "hex SHA-256"},
		{name: "plain password", mutate: func(c *Config) { c.Consumers["alice"].Basic.PasswordHash = "hunter2" }, wantPath: "password_hash", wantMsg: "unsupported password hash"},
		{name: "malformed bcrypt", mutate: func(c *Config) { c.Consumers["alice"].Basic.PasswordHash = "$2a$10$short" }, wantPath: "password_hash", wantMsg: "malformed bcrypt"},
		{name: "malformed argon2id", mutate: func(c *Config) {
			c.Consumers["alice"].Basic.PasswordHash = "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
		}, wantPath: "password_hash", wantMsg: "out of range"},
		{name: "bad ip filter", mutate: func(c *Config) { c.Routes[0].IPFilter.Deny = []string{"nope"} }, wantPath: "routes[0].ip_filter.deny[0]", wantMsg: "invalid address"},
		{name: "empty ip filter", mutate: func(c *Config) { c.Routes[0].IPFilter.Allow = nil }, wantPath: "routes[0].ip_filter.allow", wantMsg: "needs allow or deny"},
		{name: "cors star with credentials", mutate: func(c *Config) { c.Routes[0].CORS.Origins = []string{"*"}; c.Routes[0].CORS.Credentials = true }, wantPath: "routes[0].cors.origins[0]", wantMsg: "credentials"},
		{name: "cors origin with path", mutate: func(c *Config) { c.Routes[0].CORS.Origins = []string{"https://a.test/x"} }, wantPath: "routes[0].cors.origins[0]", wantMsg: "invalid origin"},
		{name: "cors mid wildcard", mutate: func(c *Config) { c.Routes[0].CORS.Origins = []string{"https://a.*.test"} }, wantPath: "routes[0].cors.origins[0]", wantMsg: "leading"},
		{name: "cors null origin", mutate: func(c *Config) { c.Routes[0].CORS.Origins = []string{"null"} }, wantPath: "routes[0].cors.origins[0]", wantMsg: "null"},
		{name: "jwt without keys", mutate: func(c *Config) { c.Routes[0].Auth.JWT.Keys = nil }, wantPath: "routes[0].auth.jwt.keys", wantMsg: "at least one key"},
		{name: "jwt unknown alg", mutate: func(c *Config) { c.Routes[0].Auth.JWT.Algorithms = []string{"RS256", "XS999"} }, wantPath: "routes[0].auth.jwt.algorithms[1]", wantMsg: "unknown algorithm"},
		{name: "jwt alg none", mutate: func(c *Config) { c.Routes[0].Auth.JWT.Algorithms = []string{"none"} }, wantPath: "routes[0].auth.jwt.algorithms[0]", wantMsg: "never accepted"},
		{name: "jwt HS without secret", mutate: func(c *Config) {
			c.Routes[0].Auth.JWT.Keys = c.Routes[0].Auth.JWT.Keys[:1]
			c.Routes[0].Auth.JWT.Algorithms = []string{"HS256"}
		}, wantPath: "routes[0].auth.jwt.algorithms[0]", wantMsg: "needs a secret"},
		{name: "jwks not http", mutate: func(c *Config) { c.Routes[0].Auth.JWT.Keys[0].JWKSURL = "file:///etc/jwks" }, wantPath: "routes[0].auth.jwt.keys[0].jwks_url", wantMsg: "http(s)"},
		{name: "short HS secret", mutate: func(c *Config) { c.Routes[0].Auth.JWT.Keys[1].Secret = "short" }, wantPath: "routes[0].auth.jwt.keys[1].secret", wantMsg: "shorter than 32"},
		{name: "key with two sources", mutate: func(c *Config) { c.Routes[0].Auth.JWT.Keys[1].PEM = "x" }, wantPath: "routes[0].auth.jwt.keys[1]", wantMsg: "exactly one"},
		{name: "forward claim to consumer header", mutate: func(c *Config) { c.Routes[0].Auth.JWT.ForwardClaims = map[string]string{"sub": "X-Consumer"} }, wantPath: "routes[0].auth.jwt.forward_claims", wantMsg: "reserved"},
		{name: "authorize without auth", mutate: func(c *Config) { c.Routes[0].Auth = nil }, wantPath: "routes[0].authorize", wantMsg: "needs auth"},
		{name: "authorize unknown consumer", mutate: func(c *Config) { c.Routes[0].Authz.Consumers = []string{"carol"} }, wantPath: "routes[0].authorize.consumers[0]", wantMsg: "unknown consumer \"carol\" (known: alice, bob)"},
		{name: "authorize empty", mutate: func(c *Config) { c.Routes[0].Authz = &Authz{} }, wantPath: "routes[0].authorize", wantMsg: "at least one rule"},
		{name: "auth without method", mutate: func(c *Config) { c.Routes[0].Auth = &Auth{At: At{Path: "routes[0].auth"}} }, wantPath: "routes[0].auth.api_key", wantMsg: "at least one method"},
		{name: "basic without credentials", mutate: func(c *Config) { c.Consumers["alice"].Basic = nil }, wantPath: "routes[0].auth.basic", wantMsg: "no consumer has a basic credential"},
		{name: "mtls without ca", mutate: func(c *Config) { c.Routes[0].Auth.MTLS = &MTLSAuth{At: At{Path: "routes[0].auth.mtls"}} }, wantPath: "routes[0].auth.mtls.ca_file", wantMsg: "needs ca_file"},
		{name: "mtls bad consumer_from", mutate: func(c *Config) {
			c.Routes[0].Auth.MTLS = &MTLSAuth{At: At{Path: "routes[0].auth.mtls"}, CAFile: "ca.pem", ConsumerFrom: "serial"}
		}, wantPath: "routes[0].auth.mtls.consumer_from", wantMsg: "unknown value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := baseSecurityConfig()
			tc.mutate(c)
			ps := securityProblems(c)
			for _, p := range ps {
				if strings.HasSuffix(p.Path, tc.wantPath) && strings.Contains(p.Msg, tc.wantMsg) {
					return
				}
			}
			t.Fatalf("problems = %v, want one at %q containing %q", ps, tc.wantPath, tc.wantMsg)
		})
	}
}

func TestProblemCarriesPosition(t *testing.T) {
	t.Parallel()
	c := baseSecurityConfig()
	c.Routes[0].IPFilter.At.fields = map[string]Pos{"deny": {File: "gantry.yaml", Line: 14, Col: 9}}
	c.Routes[0].IPFilter.Deny = []string{"10.0.0.0/40"}
	ps := securityProblems(c)
	if len(ps) != 1 {
		t.Fatalf("problems = %v, want 1", ps)
	}
	if got, want := ps[0].String(), `gantry.yaml:14:9: routes[0].ip_filter.deny[0]: invalid CIDR "10.0.0.0/40"`; got != want {
		t.Fatalf("problem = %q, want %q", got, want)
	}
}

func TestParsePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "192.0.2.7", want: "192.0.2.7/32"},
		{in: "::ffff:192.0.2.0/120", want: "192.0.2.0/24"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
	}
	for _, tc := range tests {
		got, err := ParsePrefix(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("ParsePrefix(%q) = %v, %v, want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParsePrefix("fe80::1%eth0"); err == nil {
		t.Error("ParsePrefix(zone) error = nil, want error")
	}
}

func TestTLSOptions(t *testing.T) {
	t.Parallel()
	if ps := ValidateTLSOptions(&TLSOptions{HSTS: &HSTS{Preload: true}}); len(ps) != 1 {
		t.Fatalf("preload without include_subdomains: problems = %v, want 1", ps)
	}
	if ps := ValidateTLSOptions(&TLSOptions{HSTS: &HSTS{Preload: true, IncludeSubdomains: true}, RedirectHTTP: ":8080"}); len(ps) != 0 {
		t.Fatalf("valid options: problems = %v, want none", ps)
	}
}
