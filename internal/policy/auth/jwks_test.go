package auth

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/config"
)

func jwksConfig(url string, refresh, unknownEvery time.Duration) *config.Auth {
	return &config.Auth{JWT: &config.JWTAuth{
		Issuer:    "https://idp.test",
		Audiences: []string{"gantry-api"},
		ClockSkew: config.Duration(30 * time.Second),
		Keys: []config.JWTKey{{
			JWKSURL:            url,
			RefreshInterval:    config.Duration(refresh),
			UnknownKIDInterval: config.Duration(unknownEvery),
		}},
	}}
}

func applyReason(t *testing.T, p *Policy, tok string) Reason {
	t.Helper()
	a := p.Apply(newRequest("Authorization", "Bearer "+tok))
	if a == nil {
		return ReasonNone
	}
	return reasonOf(t, a)
}

func TestJWKSUnknownKIDRefetch(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	srv := newJWKSServer(t, jwkSpec{kid: "a", key: &k.rsa.PublicKey, alg: "RS256"})
	clock := newFakeClock()
	p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Minute), nil, Options{Now: clock.Now})
	valid := claimsValid("svc")

	if got := applyReason(t, p, sign(t, jwt.SigningMethodRS256, k.rsa, "a", valid)); got != ReasonNone {
		t.Fatalf("token with kid a: reason = %v, want none", got)
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fetches after first token = %d, want 1", got)
	}

	// The IdP adds key b; a token naming b makes the gateway re-fetch once and succeed.
	srv.set(t, jwkSpec{kid: "a", key: &k.rsa.PublicKey, alg: "RS256"}, jwkSpec{kid: "b", key: &k.ec256.PublicKey, alg: "ES256"})
	if got := applyReason(t, p, sign(t, jwt.SigningMethodES256, k.ec256, "b", valid)); got != ReasonNone {
		t.Fatalf("token with new kid b: reason = %v, want none", got)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches after unknown kid b = %d, want 2", got)
	}

	// A flood of unknown kids within the interval does not reach the IdP.
	for i := 0; i < 20; i++ {
		if got := applyReason(t, p, sign(t, jwt.SigningMethodRS256, k.rsa2, "zzz", valid)); got != ReasonUnknownKey {
			t.Fatalf("token with unknown kid: reason = %v, want unknown_key", got)
		}
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches after 20 unknown kids = %d, want 2 (rate limited)", got)
	}

	// After the interval, one more re-fetch is allowed.
	clock.Advance(time.Minute)
	_ = applyReason(t, p, sign(t, jwt.SigningMethodRS256, k.rsa2, "zzz", valid))
	_ = applyReason(t, p, sign(t, jwt.SigningMethodRS256, k.rsa2, "zzz", valid))
	if got := srv.fetches.Load(); got != 3 {
		t.Fatalf("fetches after the interval = %d, want 3", got)
	}
}

func TestJWKSRotationRevokesKey(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	srv := newJWKSServer(t, jwkSpec{kid: "old", key: &k.rsa.PublicKey})
	p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Hour), nil, Options{})
	valid := claimsValid("svc")
	oldTok := sign(t, jwt.SigningMethodRS256, k.rsa, "old", valid)
	if got := applyReason(t, p, oldTok); got != ReasonNone {
		t.Fatalf("old key before rotation: reason = %v, want none", got)
	}
	// Rotation: the IdP drops "old" and publishes "new". The first token with the new
	// kid triggers the re-fetch; from then on the old key is gone.
	srv.set(t, jwkSpec{kid: "new", key: &k.rsa2.PublicKey})
	if got := applyReason(t, p, sign(t, jwt.SigningMethodRS256, k.rsa2, "new", valid)); got != ReasonNone {
		t.Fatalf("new key after rotation: reason = %v, want none", got)
	}
	if got := applyReason(t, p, oldTok); got != ReasonUnknownKey {
		t.Fatalf("old key after rotation: reason = %v, want unknown_key", got)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	srv := newJWKSServer(t, jwkSpec{kid: "old", key: &k.ec256.PublicKey})
	p := mustNew(t, jwksConfig(srv.srv.URL, 50*time.Millisecond, time.Hour), nil, Options{})
	oldTok := sign(t, jwt.SigningMethodES256, k.ec256, "old", claimsValid("svc"))
	if got := applyReason(t, p, oldTok); got != ReasonNone {
		t.Fatalf("before revocation: reason = %v, want none", got)
	}
	srv.set(t, jwkSpec{kid: "other", key: &k.ec384.PublicKey})
	deadline := time.Now().Add(10 * time.Second)
	for applyReason(t, p, oldTok) == ReasonNone {
		if time.Now().After(deadline) {
			t.Fatal("revoked key still accepted 10s after the JWKS changed (background refresh every 50ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJWKSOutageKeepsKeysAndDoesNotHammer(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	srv := newJWKSServer(t, jwkSpec{kid: "a", key: k.ed.Public()})
	clock := newFakeClock()
	p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Minute), nil, Options{Now: clock.Now})
	tok := sign(t, jwt.SigningMethodEdDSA, k.ed, "a", claimsValid("svc"))
	if got := applyReason(t, p, tok); got != ReasonNone {
		t.Fatalf("before outage: reason = %v, want none", got)
	}
	srv.status.Store(500)
	clock.Advance(2 * time.Minute)
	if got := applyReason(t, p, sign(t, jwt.SigningMethodEdDSA, k.ed, "unknown", claimsValid("svc"))); got != ReasonUnknownKey {
		t.Fatalf("unknown kid during outage: reason = %v, want unknown_key", got)
	}
	if got := applyReason(t, p, tok); got != ReasonNone {
		t.Fatalf("known key during outage: reason = %v, want none (old keys kept)", got)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	srv := newJWKSServer(t)
	srv.status.Store(503)
	clock := newFakeClock()
	p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Minute), nil, Options{Now: clock.Now})
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", claimsValid("svc"))
	for i := 0; i < 10; i++ {
		if got := applyReason(t, p, tok); got != ReasonUnknownKey {
			t.Fatalf("IdP down: reason = %v, want unknown_key", got)
		}
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fetches while down = %d, want 1", got)
	}
	srv.set(t, jwkSpec{kid: "a", key: &k.rsa.PublicKey})
	srv.status.Store(200)
	clock.Advance(time.Minute)
	if got := applyReason(t, p, tok); got != ReasonNone {
		t.Fatalf("IdP back: reason = %v, want none", got)
	}
}

func TestJWKSSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	srv := newJWKSServer(t,
		jwkSpec{kid: "hs", key: []byte("0123456789abcdef0123456789abcdef")}, // oct: never from a URL
		jwkSpec{kid: "ok", key: &k.ec256.PublicKey},
	)
	p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Hour), nil, Options{})
	if got := applyReason(t, p, sign(t, jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), "hs", claimsValid("x"))); got == ReasonNone {
		t.Fatal("HS token verified with an oct key from a JWKS URL, want refused")
	}
	if got := applyReason(t, p, sign(t, jwt.SigningMethodES256, k.ec256, "ok", claimsValid("x"))); got != ReasonNone {
		t.Fatalf("usable key in a set with an unusable one: reason = %v, want none", got)
	}
}

func TestJWKSCloseStopsRefresher(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwkSpec{kid: "a", key: &k.ec256.PublicKey})
	before := runtime.NumGoroutine()
	// No keep-alive: idle connections would hold goroutines beyond Close.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	p, err := New(jwksConfig(srv.srv.URL, 20*time.Millisecond, time.Hour), nil, Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close() // idempotent
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines = %d after Close, want <= %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := srv.fetches.Load()
	time.Sleep(100 * time.Millisecond) // no signal exists for "nothing happened"; 5 refresh periods
	if got := srv.fetches.Load(); got != n {
		t.Fatalf("fetches after Close went %d → %d, want no change", n, got)
	}
}
