package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

// staticJWTConfig trusts an HS secret, an RSA key (kid rsa1), a P-256 key (kid ec1), a
// P-384 key and an Ed25519 key, all inline.
func staticJWTConfig(t testing.TB, algs ...string) *config.Auth {
	k := getKeys(t)
	return &config.Auth{JWT: &config.JWTAuth{
		Issuer:        "https://idp.test",
		Audiences:     []string{"gantry-api", "other"},
		Algorithms:    algs,
		ClockSkew:     config.Duration(30 * time.Second),
		ConsumerClaim: "sub",
		ForwardClaims: map[string]string{"email": "X-User-Email", "roles": "X-User-Roles"},
		Keys: []config.JWTKey{
			{Secret: string(k.secret), KID: "hs1"},
			{PEM: pubPEM(t, &k.rsa.PublicKey), KID: "rsa1"},
			{PEM: pubPEM(t, &k.ec256.PublicKey), KID: "ec1"},
			{PEM: pubPEM(t, &k.ec384.PublicKey)},
			{PEM: pubPEM(t, k.ed.Public())},
		},
	}}
}

var testConsumers = map[string]*config.Consumer{
	"alice": {Name: "alice", Groups: []string{"staff"}, Scopes: []string{"orders:read"}},
}

func TestJWT(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	p := mustNew(t, staticJWTConfig(t), testConsumers, Options{})
	now := time.Now()
	valid := claimsValid("alice")
	rsaPEM := []byte(pubPEM(t, &k.rsa.PublicKey))
	tests := []struct {
		name  string
		authz string
		want  Reason
	}{
		{name: "HS256 valid", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", valid), want: ReasonNone},
		{name: "HS512 valid without kid", authz: "Bearer " + sign(t, jwt.SigningMethodHS512, k.secret, "", valid), want: ReasonNone},
		{name: "RS256 valid", authz: "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", valid), want: ReasonNone},
		{name: "PS256 valid", authz: "Bearer " + sign(t, jwt.SigningMethodPS256, k.rsa, "rsa1", valid), want: ReasonNone},
		{name: "ES256 valid", authz: "Bearer " + sign(t, jwt.SigningMethodES256, k.ec256, "ec1", valid), want: ReasonNone},
		{name: "ES384 valid without kid", authz: "Bearer " + sign(t, jwt.SigningMethodES384, k.ec384, "", valid), want: ReasonNone},
		{name: "EdDSA valid", authz: "Bearer " + sign(t, jwt.SigningMethodEdDSA, k.ed, "", valid), want: ReasonNone},
		{name: "scheme is case-insensitive", authz: "bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", valid), want: ReasonNone},
		{name: "second audience accepted", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "aud", []string{"x", "other"})), want: ReasonNone},
		{name: "expired within skew accepted", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "exp", now.Add(-10*time.Second).Unix())), want: ReasonNone},
		{name: "expired", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "exp", now.Add(-time.Hour).Unix())), want: ReasonExpired},
		{name: "not yet valid", authz: "Bearer " + sign(t, jwt.SigningMethodES256, k.ec256, "ec1", with(valid, "nbf", now.Add(time.Hour).Unix())), want: ReasonNotYetValid},
		{name: "issued in the future", authz: "Bearer " + sign(t, jwt.SigningMethodES256, k.ec256, "ec1", with(valid, "iat", now.Add(time.Hour).Unix())), want: ReasonNotYetValid},
		{name: "missing exp", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "exp", nil)), want: ReasonClaims},
		{name: "wrong issuer", authz: "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", with(valid, "iss", "https://evil.test")), want: ReasonIssuer},
		{name: "wrong audience", authz: "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", with(valid, "aud", "someone-else")), want: ReasonAudience},
		{name: "missing audience", authz: "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", with(valid, "aud", nil)), want: ReasonClaims},
		{name: "bad signature: other RSA key", authz: "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa2, "rsa1", valid), want: ReasonSignature},
		{name: "bad signature: other secret", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), "hs1", valid), want: ReasonSignature},
		{name: "bad signature: payload altered", authz: "Bearer " + alterPayload(t, sign(t, jwt.SigningMethodHS256, k.secret, "hs1", valid)), want: ReasonSignature},
		{name: "alg none", authz: "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", valid), want: ReasonAlgorithm},
		{name: "alg none with kid", authz: "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa1", valid), want: ReasonAlgorithm},
		{name: "HS256 signed with the RSA public key as secret", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa1", valid), want: ReasonAlgorithm},
		{name: "ES384 token naming the P-256 key", authz: "Bearer " + sign(t, jwt.SigningMethodES384, k.ec384, "ec1", valid), want: ReasonAlgorithm},
		{name: "unknown kid", authz: "Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "nope", valid), want: ReasonUnknownKey},
		{name: "unknown alg", authz: "Bearer eyJhbGciOiJYWTEyMyIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2ln", want: ReasonAlgorithm},
		{name: "malformed", authz: "Bearer not.a.token", want: ReasonMalformed},
		{name: "two segments", authz: "Bearer abc.def", want: ReasonMalformed},
		{name: "empty bearer", authz: "Bearer ", want: ReasonMalformed},
		{name: "missing", authz: "", want: ReasonMissing},
		{name: "other scheme", authz: "Digest x", want: ReasonMissing},
		{name: "consumer claim missing", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "sub", nil)), want: ReasonClaims},
		{name: "consumer claim with CRLF", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "sub", "a\r\nX-Admin: 1")), want: ReasonClaims},
		{name: "consumer claim not a string", authz: "Bearer " + sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(valid, "sub", 42)), want: ReasonClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRequest("Authorization", tc.authz, "X-Consumer", "spoofed", "X-User-Email", "spoofed@evil.test")
			a := p.Apply(r)
			got := ReasonNone
			if a != nil {
				got = reasonOf(t, a)
			}
			if got != tc.want {
				t.Fatalf("Apply() reason = %v, want %v", got, tc.want)
			}
			if tc.want != ReasonNone {
				if r.Consumer != nil || r.Header.Get("X-Consumer") != "" || r.Header.Get("X-User-Email") != "" {
					t.Fatalf("failed auth left consumer %v, X-Consumer %q, X-User-Email %q", r.Consumer, r.Header.Get("X-Consumer"), r.Header.Get("X-User-Email"))
				}
				if a.Status != 401 || a.Reason != "unauthenticated" {
					t.Fatalf("Answer = %d %s, want 401 unauthenticated", a.Status, a.Reason)
				}
				return
			}
			if r.Consumer == nil || r.Consumer.Name != "alice" || r.Header.Get("X-Consumer") != "alice" {
				t.Fatalf("Consumer = %v, X-Consumer = %q, want alice", r.Consumer, r.Header.Get("X-Consumer"))
			}
			if got := r.Consumer.Groups; len(got) != 1 || got[0] != "staff" {
				t.Fatalf("Consumer.Groups = %v, want [staff] from config", got)
			}
			if r.Header.Get("X-User-Email") != "" {
				t.Fatalf("X-User-Email = %q, want removed (token has no email)", r.Header.Get("X-User-Email"))
			}
		})
	}
}

// reasonOf finds the Reason whose detail the answer carries.
func reasonOf(t *testing.T, a *policy.Answer) Reason {
	t.Helper()
	for i := 1; i < numReasons; i++ {
		if Reason(i).Detail() == a.Detail {
			return Reason(i)
		}
	}
	t.Fatalf("answer detail %q matches no Reason", a.Detail)
	return ReasonNone
}

func alterPayload(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	c := claimsValid("mallory")
	other := sign(t, jwt.SigningMethodHS256, []byte("x-other-secret-x-other-secret-xx"), "", c)
	parts[1] = strings.Split(other, ".")[1]
	return strings.Join(parts, ".")
}

func TestJWTAlgorithmsRestricted(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	// Only RS256 allowed although an HS secret is configured too.
	p := mustNew(t, staticJWTConfig(t, "RS256"), testConsumers, Options{})
	valid := claimsValid("alice")
	tests := []struct {
		name string
		tok  string
		want Reason
	}{
		{name: "RS256 allowed", tok: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", valid), want: ReasonNone},
		{name: "HS256 not allowed", tok: sign(t, jwt.SigningMethodHS256, k.secret, "hs1", valid), want: ReasonAlgorithm},
		{name: "PS256 not allowed", tok: sign(t, jwt.SigningMethodPS256, k.rsa, "rsa1", valid), want: ReasonAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := p.Apply(newRequest("Authorization", "Bearer "+tc.tok))
			got := ReasonNone
			if a != nil {
				got = reasonOf(t, a)
			}
			if got != tc.want {
				t.Fatalf("Apply() reason = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestJWTForwardClaimsAndChallenge(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	var results []string
	p := mustNew(t, staticJWTConfig(t), nil, Options{
		ConsumerHeader: "X-Who",
		OnResult:       func(m Method, r Reason) { results = append(results, m.String()+":"+r.String()) },
	})
	tok := sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(claimsValid("bob"), "email", "bob@example.com", "roles", []any{"a", "b"}))
	r := newRequest("Authorization", "Bearer "+tok, "X-Who", "admin", "X-User-Roles", "root")
	if a := p.Apply(r); a != nil {
		t.Fatalf("Apply() = %d %s, want nil", a.Status, a.Detail)
	}
	if got := r.Header.Get("X-Who"); got != "bob" {
		t.Errorf("X-Who = %q, want bob (ad-hoc consumer from sub)", got)
	}
	if got := r.Header.Get("X-User-Email"); got != "bob@example.com" {
		t.Errorf("X-User-Email = %q, want bob@example.com", got)
	}
	if got := r.Header.Values("X-User-Roles"); len(got) != 1 || got[0] != "a,b" {
		t.Errorf("X-User-Roles = %q, want [a,b]", got)
	}
	if r.Consumer.Claims["email"] != "bob@example.com" {
		t.Errorf("Consumer.Claims[email] = %v, want bob@example.com", r.Consumer.Claims["email"])
	}

	// Challenges: no error code without a token (RFC 6750 section 3.1), invalid_token with one.
	a := p.Apply(newRequest())
	if got := a.Header["WWW-Authenticate"]; got != `Bearer realm="gantry"` {
		t.Errorf("WWW-Authenticate (no token) = %q, want Bearer realm only", got)
	}
	expired := sign(t, jwt.SigningMethodHS256, k.secret, "hs1", with(claimsValid("bob"), "exp", time.Now().Add(-time.Hour).Unix()))
	a = p.Apply(newRequest("Authorization", "Bearer "+expired))
	if got, want := a.Header["WWW-Authenticate"], `Bearer realm="gantry", error="invalid_token", error_description="token expired"`; got != want {
		t.Errorf("WWW-Authenticate (expired) = %q, want %q", got, want)
	}
	if want := []string{"jwt:none", "none:missing", "jwt:expired"}; strings.Join(results, " ") != strings.Join(want, " ") {
		t.Errorf("OnResult calls = %v, want %v", results, want)
	}
}

func TestJWTConfigErrors(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	tests := []struct {
		name string
		key  config.JWTKey
	}{
		{name: "short secret", key: config.JWTKey{Secret: "short"}},
		{name: "private key", key: config.JWTKey{PEM: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}},
		{name: "garbage pem", key: config.JWTKey{PEM: "hello"}},
		{name: "missing file", key: config.JWTKey{File: "/nonexistent/key.pem"}},
		{name: "no source", key: config.JWTKey{KID: "x"}},
	}
	_ = k
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(&config.Auth{JWT: &config.JWTAuth{Keys: []config.JWTKey{tc.key}}}, nil, Options{})
			if err == nil {
				t.Fatal("New() error = nil, want error")
			}
			var be *config.BuildError
			if !asBuildError(err, &be) {
				t.Fatalf("New() error = %T %v, want *config.BuildError", err, err)
			}
		})
	}
}

func asBuildError(err error, target **config.BuildError) bool {
	be, ok := err.(*config.BuildError)
	if ok {
		*target = be
	}
	return ok
}

var jwtHS256 = jwt.SigningMethodHS256

var _ = http.MethodGet
