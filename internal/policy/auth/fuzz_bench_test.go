package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/config"
)

var fuzzSecret = []byte("fuzz-secret-fuzz-secret-fuzz-secret!")

// FuzzJWT feeds arbitrary bearer tokens to a policy trusting one HS256 secret. It must
// never panic, and must never authenticate a token whose signature is not a valid
// HMAC of its header and payload under that secret (checked independently here).
func FuzzJWT(f *testing.F) {
	now := time.Now()
	good := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "exp": now.Add(time.Hour).Unix()})
	goodTok, err := good.SignedString(fuzzSecret)
	if err != nil {
		f.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "x", "exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{
		goodTok, none, "", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.",
		"eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJ4In0.AAAA",
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 43),
		goodTok[:len(goodTok)-2],
	} {
		f.Add(s)
	}
	p, err := New(&config.Auth{JWT: &config.JWTAuth{
		Keys:          []config.JWTKey{{Secret: string(fuzzSecret)}},
		ClockSkew:     config.Duration(30 * time.Second),
		ConsumerClaim: "sub",
	}}, nil, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(p.Close)
	f.Fuzz(func(t *testing.T, tok string) {
		r := newRequest("Authorization", "Bearer "+tok)
		if a := p.Apply(r); a != nil {
			if a.Status != 401 || r.Consumer != nil {
				t.Fatalf("failed Apply(%q) = %d with consumer %v", tok, a.Status, r.Consumer)
			}
			return
		}
		parts := strings.Split(strings.TrimSpace(tok), ".")
		if len(parts) != 3 {
			t.Fatalf("Apply(%q) authenticated a token without three segments", tok)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		mac := hmac.New(sha256.New, fuzzSecret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("Apply(%q) authenticated a token without a valid HS256 signature", tok)
		}
	})
}

func BenchmarkAPIKey(b *testing.B) {
	p, err := New(&config.Auth{APIKey: &config.APIKeyAuth{Header: "X-Api-Key"}}, apiKeyConsumers(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := newRequest("X-Api-Key", keyAlice)
	b.ReportAllocs()
	for b.Loop() {
		if p.Apply(r) != nil {
			b.Fatal("refused")
		}
	}
}

// BenchmarkJWT measures a cache hit (the same token again, the steady state of a
// keep-alive client) and a miss (full verification and the cache insert, forced by
// a key-generation change before every request) per algorithm.
func BenchmarkJWT(b *testing.B) {
	k := getKeys(b)
	algs := []struct {
		name    string
		m       jwt.SigningMethod
		signKey any
		cfgKey  config.JWTKey
	}{
		{name: "HS256", m: jwt.SigningMethodHS256, signKey: k.secret, cfgKey: config.JWTKey{Secret: string(k.secret)}},
		{name: "RS256", m: jwt.SigningMethodRS256, signKey: k.rsa, cfgKey: config.JWTKey{PEM: pubPEM(b, &k.rsa.PublicKey)}},
		{name: "ES256", m: jwt.SigningMethodES256, signKey: k.ec256, cfgKey: config.JWTKey{PEM: pubPEM(b, &k.ec256.PublicKey)}},
	}
	for _, a := range algs {
		for _, hit := range []bool{true, false} {
			name := a.name + "/miss"
			if hit {
				name = a.name + "/hit"
			}
			b.Run(name, func(b *testing.B) {
				p, err := New(&config.Auth{JWT: &config.JWTAuth{
					Keys: []config.JWTKey{a.cfgKey}, ClockSkew: config.Duration(30 * time.Second), ConsumerClaim: "sub",
					Issuer: "https://idp.test", Audiences: []string{"gantry-api"},
				}}, nil, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				r := newRequest("Authorization", "Bearer "+sign(b, a.m, a.signKey, "", claimsValid("alice")))
				b.ReportAllocs()
				for b.Loop() {
					if !hit {
						p.jwt.keysChanged()
					}
					if a := p.Apply(r); a != nil {
						b.Fatal(a.Detail)
					}
				}
			})
		}
	}
}

// BenchmarkJWTCacheHit measures authenticate alone on a cache hit (key, lookup,
// token comparison), without Apply's header writes; it must not allocate.
func BenchmarkJWTCacheHit(b *testing.B) {
	k := getKeys(b)
	p, err := New(&config.Auth{JWT: &config.JWTAuth{
		Keys: []config.JWTKey{{Secret: string(k.secret)}}, ClockSkew: config.Duration(30 * time.Second), ConsumerClaim: "sub",
		Issuer: "https://idp.test", Audiences: []string{"gantry-api"},
	}}, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	authz := "Bearer " + sign(b, jwt.SigningMethodHS256, k.secret, "", with(claimsValid("alice"), "email", "alice@example.com"))
	if _, why := p.jwt.authenticate(authz, p.log); why != ReasonNone {
		b.Fatal(why)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, why := p.jwt.authenticate(authz, p.log); why != ReasonNone {
			b.Fatal(why)
		}
	}
}

func BenchmarkBasicCached(b *testing.B) {
	p, err := New(&config.Auth{Basic: &config.BasicAuth{}}, map[string]*config.Consumer{
		"alice": {Name: "alice", Basic: &config.BasicCredential{Username: "alice", PasswordHash: argon2idHash("pw")}},
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := newRequest("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	b.ReportAllocs()
	for b.Loop() {
		if a := p.Apply(r); a != nil {
			b.Fatal(a.Detail)
		}
	}
}
