package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/config"
)

const cacheTestSkew = 30 * time.Second

// hsConfig trusts the test secret only, with the given audiences.
func hsConfig(t testing.TB, auds ...string) *config.Auth {
	return &config.Auth{JWT: &config.JWTAuth{
		Issuer:        "https://idp.test",
		Audiences:     auds,
		ClockSkew:     config.Duration(cacheTestSkew),
		ConsumerClaim: "sub",
		ForwardClaims: map[string]string{"email": "X-User-Email"},
		Keys:          []config.JWTKey{{Secret: string(getKeys(t).secret)}},
	}}
}

// claimsAt returns valid claims as of now (the fake clock's time).
func claimsAt(now time.Time, sub string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://idp.test", "aud": "gantry-api", "sub": sub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// refuseAll makes every further full verification fail, so an Apply that still
// succeeds was answered from the cache.
func refuseAll(p *Policy) {
	p.jwt.parser = jwt.NewParser(jwt.WithValidMethods([]string{"HS999"}))
}

// TestJWTCacheValidity walks the clock over a cached token's lifetime: every step's
// answer must be what a fresh verification at that time would give.
func TestJWTCacheValidity(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		want    Reason
	}
	tests := []struct {
		name  string
		claim func(now time.Time) jwt.MapClaims
		steps []step
	}{
		{
			name: "valid, then expired while cached",
			claim: func(now time.Time) jwt.MapClaims {
				return with(claimsAt(now, "a"), "exp", now.Add(2*time.Minute).Unix())
			},
			steps: []step{
				{0, ReasonNone},
				{time.Minute, ReasonNone},
				{time.Minute + cacheTestSkew - time.Second, ReasonNone}, // within the skew
				{time.Second, ReasonExpired},                            // exp + skew reached
				{time.Hour, ReasonExpired},
			},
		},
		{
			name: "nbf in the future: refused and not cached, then valid",
			claim: func(now time.Time) jwt.MapClaims {
				return with(claimsAt(now, "a"), "nbf", now.Add(10*time.Minute).Unix())
			},
			steps: []step{
				{0, ReasonNotYetValid},
				{10*time.Minute - cacheTestSkew - time.Second, ReasonNotYetValid},
				{time.Second, ReasonNone}, // nbf - skew reached
				{time.Minute, ReasonNone},
			},
		},
		{
			name:  "clock steps back before nbf while cached",
			claim: func(now time.Time) jwt.MapClaims { return with(claimsAt(now, "a"), "iat", nil) },
			steps: []step{
				{0, ReasonNone},
				{-cacheTestSkew, ReasonNone},
				{-time.Second, ReasonNotYetValid},
				{time.Second, ReasonNone},
			},
		},
		{
			name:  "clock steps back before iat while cached",
			claim: func(now time.Time) jwt.MapClaims { return with(claimsAt(now, "a"), "nbf", nil) },
			steps: []step{
				{0, ReasonNone},
				{-cacheTestSkew - time.Second, ReasonNotYetValid},
			},
		},
		{
			name:  "exp beyond the cache TTL: re-verified, still valid",
			claim: func(now time.Time) jwt.MapClaims { return claimsAt(now, "a") },
			steps: []step{
				{0, ReasonNone},
				{jwtCacheTTL + time.Second, ReasonNone},
				{time.Hour - jwtCacheTTL - time.Second + cacheTestSkew, ReasonExpired},
			},
		},
	}
	k := getKeys(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			p := mustNew(t, hsConfig(t, "gantry-api"), nil, Options{Now: clock.Now})
			tok := sign(t, jwt.SigningMethodHS256, k.secret, "", tc.claim(clock.Now()))
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				if got := applyReason(t, p, tok); got != s.want {
					t.Fatalf("step %d (%+v): Apply() reason = %v, want %v", i, s.advance, got, s.want)
				}
				// Only successes are cached.
				if got, want := p.jwt.verified.len(), 0; s.want != ReasonNone && i == 0 && got != want {
					t.Fatalf("step %d: cache holds %d entries after a failure, want %d", i, got, want)
				}
			}
		})
	}
}

// TestJWTCacheHits shows which tokens the cache answers: only the exact bytes that
// verified, and only until the TTL.
func TestJWTCacheHits(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	clock := newFakeClock()
	p := mustNew(t, hsConfig(t, "gantry-api"), nil, Options{Now: clock.Now})
	claims := with(claimsAt(clock.Now(), "alice"), "email", "alice@example.com")
	tok := sign(t, jwt.SigningMethodHS256, k.secret, "", claims)
	r := newRequest("Authorization", "Bearer "+tok)
	if a := p.Apply(r); a != nil {
		t.Fatalf("first Apply() = %s, want nil", a.Detail)
	}
	first := r.Consumer
	refuseAll(p)

	// A miss is verified by the refusing parser, so hit == accepted.
	tests := []struct {
		name string
		tok  string
		hit  bool
	}{
		{name: "same token", tok: tok, hit: true},
		{name: "same token, padded with spaces", tok: "  " + tok + " ", hit: true},
		{name: "signature truncated", tok: tok[:len(tok)-1]},
		{name: "signature altered", tok: tok[:len(tok)-2] + flip(tok[len(tok)-2]) + tok[len(tok)-1:]},
		{name: "bytes appended", tok: tok + "A"},
		{name: "other token, same claims", tok: sign(t, jwt.SigningMethodHS384, k.secret, "", claims)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("Authorization", "Bearer "+tc.tok, "X-User-Email", "spoofed")
			a := p.Apply(r)
			if got := a == nil; got != tc.hit {
				t.Fatalf("Apply() accepted = %v, want %v (hit)", got, tc.hit)
			}
			if a != nil {
				if v := r.Header.Get("X-User-Email"); v != "" {
					t.Fatalf("X-User-Email = %q after a refusal, want removed", v)
				}
				return
			}
			if r.Consumer != first || r.Header.Get("X-Consumer") != "alice" || r.Header.Get("X-User-Email") != "alice@example.com" {
				t.Fatalf("hit: Consumer %p (want %p), X-Consumer %q, X-User-Email %q", r.Consumer, first, r.Header.Get("X-Consumer"), r.Header.Get("X-User-Email"))
			}
		})
	}

	clock.Advance(jwtCacheTTL - time.Second)
	if got := applyReason(t, p, tok); got != ReasonNone {
		t.Fatalf("just before the TTL: reason = %v, want none (hit)", got)
	}
	clock.Advance(time.Second)
	if got := applyReason(t, p, tok); got == ReasonNone {
		t.Fatal("at the TTL: accepted, want refused (re-verified by the refusing parser)")
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestJWTCacheRouteRequirements: each route's requirements are checked on its own;
// a token cached by one route is verified in full by another.
func TestJWTCacheRouteRequirements(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	rsOnly := hsConfig(t, "gantry-api")
	rsOnly.JWT.Algorithms = []string{"RS256"}
	otherIssuer := hsConfig(t, "gantry-api")
	otherIssuer.JWT.Issuer = "https://other.test"
	tests := []struct {
		name string
		cfg  *config.Auth
		want Reason
	}{
		{name: "same requirements", cfg: hsConfig(t, "gantry-api"), want: ReasonNone},
		{name: "other audience", cfg: hsConfig(t, "billing"), want: ReasonAudience},
		{name: "other issuer", cfg: otherIssuer, want: ReasonIssuer},
		{name: "other algorithms", cfg: rsOnly, want: ReasonAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			routeA := mustNew(t, hsConfig(t, "gantry-api"), nil, Options{Now: clock.Now})
			routeB := mustNew(t, tc.cfg, nil, Options{Now: clock.Now})
			tok := sign(t, jwt.SigningMethodHS256, k.secret, "", claimsAt(clock.Now(), "alice"))
			for i := range 2 {
				if got := applyReason(t, routeA, tok); got != ReasonNone {
					t.Fatalf("route A, request %d: reason = %v, want none", i, got)
				}
				if got := applyReason(t, routeB, tok); got != tc.want {
					t.Fatalf("route B after a hit on A, request %d: reason = %v, want %v", i, got, tc.want)
				}
			}
		})
	}
}

// TestJWKSRefreshDropsCachedTokens: a cached token whose key left the JWK Set is
// refused after the refresh that removed it; a refresh with the same keys keeps it.
func TestJWKSRefreshDropsCachedTokens(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	oldKey := jwkSpec{kid: "k1", key: &k.ec256.PublicKey, alg: "ES256"}
	tests := []struct {
		name    string
		next    []jwkSpec
		want    Reason
		sameGen bool
	}{
		{name: "key removed", next: []jwkSpec{{kid: "k2", key: k.ed.Public()}}, want: ReasonUnknownKey},
		{name: "same kid, other key material", next: []jwkSpec{{kid: "k1", key: &k.rsa.PublicKey}}, want: ReasonAlgorithm},
		{name: "key added beside it", next: []jwkSpec{oldKey, {kid: "k2", key: k.ed.Public()}}, want: ReasonNone},
		{name: "unchanged set keeps the cache", next: []jwkSpec{oldKey}, want: ReasonNone, sameGen: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t, oldKey)
			clock := newFakeClock()
			p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Hour), nil, Options{Now: clock.Now})
			tok := sign(t, jwt.SigningMethodES256, k.ec256, "k1", claimsAt(clock.Now(), "svc"))
			if got := applyReason(t, p, tok); got != ReasonNone {
				t.Fatalf("before the refresh: reason = %v, want none", got)
			}
			if got := p.jwt.verified.len(); got != 1 {
				t.Fatalf("cache holds %d entries, want 1", got)
			}
			gen := p.jwt.gen.Load()
			srv.set(t, tc.next...)
			p.jwt.sets[0].refreshNow() // what the background ticker does
			if got := srv.fetches.Load(); got != 2 {
				t.Fatalf("fetches = %d, want 2", got)
			}
			if got := p.jwt.gen.Load() == gen; got != tc.sameGen {
				t.Fatalf("generation unchanged = %v, want %v", got, tc.sameGen)
			}
			if got := applyReason(t, p, tok); got != tc.want {
				t.Fatalf("after the refresh: reason = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestJWTCacheEviction: a full cache evicts, and evicted tokens are verified again.
func TestJWTCacheEviction(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	clock := newFakeClock()
	p := mustNew(t, hsConfig(t, "gantry-api"), nil, Options{Now: clock.Now})
	const bound = 32
	p.jwt.verified = newJWTCache(bound, 0)
	toks := make([]string, 200)
	for i := range toks {
		toks[i] = sign(t, jwt.SigningMethodHS256, k.secret, "", claimsAt(clock.Now(), fmt.Sprintf("user%d", i)))
	}
	for round := range 2 {
		for i, tok := range toks {
			r := newRequest("Authorization", "Bearer "+tok)
			if a := p.Apply(r); a != nil {
				t.Fatalf("round %d token %d: Apply() = %s, want nil", round, i, a.Detail)
			}
			if want := fmt.Sprintf("user%d", i); r.Consumer.Name != want {
				t.Fatalf("round %d token %d: consumer = %q, want %q", round, i, r.Consumer.Name, want)
			}
		}
		if got := p.jwt.verified.len(); got > bound || got == 0 {
			t.Fatalf("round %d: cache holds %d entries, want 1..%d", round, got, bound)
		}
	}
}

// TestJWTCacheConcurrent runs hits, misses, failures and key changes at once (run
// with -race): good tokens always pass with their own consumer, forged ones never.
func TestJWTCacheConcurrent(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	stable := jwkSpec{kid: "a", key: &k.ec256.PublicKey}
	srv := newJWKSServer(t, stable)
	p := mustNew(t, jwksConfig(srv.srv.URL, time.Hour, time.Hour), nil, Options{})
	now := time.Now()
	good := make([]string, 8)
	for i := range good {
		good[i] = sign(t, jwt.SigningMethodES256, k.ec256, "a", claimsAt(now, fmt.Sprintf("svc%d", i)))
	}
	forged := sign(t, jwt.SigningMethodES256, k.ec256, "a", claimsAt(now, "mallory"))
	forged = forged[:len(forged)-4] + "AAAA"
	rotating := sign(t, jwt.SigningMethodEdDSA, k.ed, "b", claimsAt(now, "rot"))

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				n := (w + i) % len(good)
				r := newRequest("Authorization", "Bearer "+good[n])
				if a := p.Apply(r); a != nil || r.Consumer.Name != fmt.Sprintf("svc%d", n) {
					errs <- fmt.Errorf("good token %d: answer %v, consumer %v", n, a, r.Consumer)
					return
				}
				if a := p.Apply(newRequest("Authorization", "Bearer "+forged)); a == nil {
					errs <- fmt.Errorf("forged token accepted")
					return
				}
				r = newRequest("Authorization", "Bearer "+rotating)
				if a := p.Apply(r); a == nil && r.Consumer.Name != "rot" {
					errs <- fmt.Errorf("rotating token: consumer %q, want rot", r.Consumer.Name)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			if i%2 == 0 {
				srv.set(t, stable, jwkSpec{kid: "b", key: k.ed.Public()})
			} else {
				srv.set(t, stable)
			}
			p.jwt.sets[0].refreshNow()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The last refresh removed key b: its token must be refused, cached or not.
	if got := applyReason(t, p, rotating); got != ReasonUnknownKey {
		t.Fatalf("token of the removed key after the last refresh: reason = %v, want unknown_key", got)
	}
}

// TestJWTCacheKeyCollision forces a collision of the 64-bit cache key: token A's
// verified entry is stored under token B's key as well, as if both hashed alike. B
// must then be verified in full (refused for its own reason, or accepted as its own
// consumer), never answered with A's entry; a refused B leaves the entry in place.
func TestJWTCacheKeyCollision(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	tests := []struct {
		name     string
		other    func(t *testing.T, a string, now time.Time) string
		want     Reason
		consumer string // B's consumer when want is ReasonNone
	}{
		{
			name: "signature altered, same length",
			other: func(_ *testing.T, a string, _ time.Time) string {
				return a[:len(a)-2] + flip(a[len(a)-2]) + a[len(a)-1:]
			},
			want: ReasonSignature,
		},
		{
			name:  "A as a prefix of B",
			other: func(_ *testing.T, a string, _ time.Time) string { return a + "AAAA" },
			want:  ReasonSignature,
		},
		{
			name:  "B as a prefix of A",
			other: func(_ *testing.T, a string, _ time.Time) string { return a[:len(a)-4] },
			want:  ReasonSignature,
		},
		{
			name: "A's claims under another algorithm",
			other: func(t *testing.T, _ string, now time.Time) string {
				return sign(t, jwt.SigningMethodRS256, k.rsa, "", claimsAt(now, "alice"))
			},
			want: ReasonAlgorithm,
		},
		{
			name: "another valid token",
			other: func(t *testing.T, _ string, now time.Time) string {
				return sign(t, jwt.SigningMethodHS256, k.secret, "", claimsAt(now, "bob"))
			},
			want:     ReasonNone,
			consumer: "bob",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			p := mustNew(t, hsConfig(t, "gantry-api"), nil, Options{Now: clock.Now})
			a := sign(t, jwt.SigningMethodHS256, k.secret, "", claimsAt(clock.Now(), "alice"))
			b := tc.other(t, a, clock.Now())
			if got := applyReason(t, p, a); got != ReasonNone {
				t.Fatalf("Apply(A) reason = %v, want none", got)
			}
			keyA, keyB := p.jwt.tokenKey(a), p.jwt.tokenKey(b)
			entryA, ok := p.jwt.verified.get(keyA)
			if !ok {
				t.Fatal("A not cached after its verification")
			}
			p.jwt.verified.put(keyB, entryA, len(a)) // the collision

			if v, ok := p.jwt.lookup(keyB, b, p.jwt.gen.Load(), clock.Now()); ok {
				t.Fatalf("lookup(B's key, B) = consumer %q, true, want a miss", v.consumer.Name)
			}
			r := newRequest("Authorization", "Bearer "+b)
			ans := p.Apply(r)
			got := ReasonNone
			if ans != nil {
				got = reasonOf(t, ans)
			}
			if got != tc.want {
				t.Fatalf("Apply(B) reason = %v, want %v", got, tc.want)
			}
			after, _ := p.jwt.verified.get(keyB)
			if tc.want == ReasonNone {
				if r.Consumer == entryA.consumer || r.Consumer.Name != tc.consumer {
					t.Fatalf("Apply(B) consumer = %q (A's entry: %v), want %q", r.Consumer.Name, r.Consumer == entryA.consumer, tc.consumer)
				}
				// B's verification replaced A's entry under the shared key.
				if after == entryA || after.token != b {
					t.Fatalf("entry under B's key after verifying B: A's = %v, token B = %v, want false, true", after == entryA, after.token == b)
				}
			} else if after != entryA {
				t.Fatal("entry under B's key replaced by a refused token, want A's kept (failures are never cached)")
			}
			// A is still answered from its own key, even with the parser refusing all.
			refuseAll(p)
			if got := applyReason(t, p, a); got != ReasonNone {
				t.Fatalf("Apply(A) after the collision reason = %v, want none (hit)", got)
			}
		})
	}
}
