package auth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

// maxTokenBytes bounds the bearer tokens we parse at all.
const maxTokenBytes = 16 << 10

// Bounds of the verified-token cache of one route (issue 6: parsing and decoding the
// claims cost more than the proxying). Entries: the tokens of this many clients stay
// verified; bytes: their total length, so large tokens (each entry keeps a copy of its
// token, and the decoded claims take a few times its length) cannot grow it past a few
// tens of MiB; TTL: the longest a verification is reused however late exp is, a bound
// on anything the cache does not see change.
const (
	jwtCacheEntries = 10_000
	jwtCacheBytes   = 16 << 20
	jwtCacheTTL     = 5 * time.Minute
)

type jwtAuth struct {
	realm         string
	parser        *jwt.Parser
	algs          []string
	leeway        time.Duration
	now           func() time.Time
	static        []*verifyKey
	sets          []*jwkSet
	consumerClaim string
	forward       []forwardClaim
	idx           *consumerIndex

	// verified caches successful verifications under tokenKey of the token; an entry
	// answers only the exact token it holds (see lookup), and only while its
	// generation is current, so changed JWK Sets drop every entry.
	verified *boundedCache[uint64, *jwtVerified]
	seed     maphash.Seed // of tokenKey, per jwtAuth so keys differ across routes and reloads
	gen      atomic.Uint64
}

type forwardClaim struct{ claim, header string }

// jwtVerified is what a successful verification yields, shared read-only by every
// request presenting the same token until notAfter.
type jwtVerified struct {
	// token is the verified token, a copy owned by the entry: lookup compares it with
	// the presented one, so a collision of the 64-bit key can only miss.
	token    string
	consumer *policy.Consumer
	forward  []headerValue // forward_claims headers, rendered once
	// notBefore and notAfter are nbf/iat and exp with the clock skew applied the way
	// the verifier applies it; notAfter is also capped at verification + jwtCacheTTL.
	notBefore, notAfter time.Time
	gen                 uint64 // key generation the token was verified under
}

type headerValue struct{ name, value string }

func newJWT(cfg *config.JWTAuth, idx *consumerIndex, client *http.Client, log *slog.Logger, now func() time.Time) (*jwtAuth, error) {
	if len(cfg.Keys) == 0 {
		return nil, config.FieldError(cfg.At, "keys", ErrNoKeys)
	}
	j := &jwtAuth{realm: config.DefaultRealm, consumerClaim: cfg.ConsumerClaim, idx: idx, leeway: cfg.ClockSkew.D(), now: now,
		verified: newJWTCache(jwtCacheEntries, jwtCacheBytes), seed: maphash.MakeSeed()}
	if j.consumerClaim == "" {
		j.consumerClaim = config.DefaultConsumerClaim
	}
	j.algs = slices.Clone(cfg.Algorithms)
	for i := range cfg.Keys {
		k := &cfg.Keys[i]
		var (
			key any
			err error
			at  = "file"
		)
		switch {
		case k.Secret != "":
			at = "secret"
			if len(k.Secret) < config.MinHMACSecret {
				return nil, config.FieldError(k.At, at, fmt.Errorf("%w: HMAC secret shorter than %d bytes", ErrWeakKey, config.MinHMACSecret))
			}
			key = []byte(k.Secret)
		case k.PEM != "":
			at = "pem"
			key, err = parsePublicPEM([]byte(k.PEM))
		case k.File != "":
			var data []byte
			if data, err = os.ReadFile(k.File); err == nil {
				key, err = parsePublicPEM(data)
			}
		case k.JWKSURL != "":
			refresh, every := k.RefreshInterval.D(), k.UnknownKIDInterval.D()
			if refresh == 0 {
				refresh = config.DefaultJWKSRefresh.D()
			}
			if every == 0 {
				every = config.DefaultUnknownKIDInterval.D()
			}
			j.sets = append(j.sets, newJWKSet(k.JWKSURL, refresh, every, client, log, now, j.keysChanged))
			continue
		default:
			return nil, config.FieldError(k.At, at, fmt.Errorf("%w: a key needs file, pem, secret or jwks_url", ErrBadKey))
		}
		if err != nil {
			j.close()
			return nil, config.FieldError(k.At, at, err)
		}
		algs, err := algorithmsFor(key)
		if err != nil {
			j.close()
			return nil, config.FieldError(k.At, at, err)
		}
		j.static = append(j.static, &verifyKey{kid: k.KID, key: key, algs: algs})
	}
	if len(j.algs) == 0 {
		for _, k := range j.static {
			j.algs = append(j.algs, k.algs...)
		}
		if len(j.sets) > 0 {
			j.algs = append(j.algs, config.JWTAlgorithmsRSA...)
			j.algs = append(j.algs, config.JWTAlgorithmsEC...)
			j.algs = append(j.algs, config.JWTAlgorithmsOKP...)
		}
	}
	j.algs = slices.DeleteFunc(j.algs, func(a string) bool { return strings.EqualFold(a, "none") })
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(j.algs),
		jwt.WithLeeway(j.leeway),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithJSONNumber(),
		jwt.WithTimeFunc(now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if len(cfg.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audiences...))
	}
	j.parser = jwt.NewParser(opts...)
	for claim, header := range cfg.ForwardClaims {
		j.forward = append(j.forward, forwardClaim{claim: claim, header: http.CanonicalHeaderKey(header)})
	}
	slices.SortFunc(j.forward, func(a, b forwardClaim) int { return strings.Compare(a.claim, b.claim) })
	return j, nil
}

// keysChanged invalidates every cached verification; JWK Sets call it after installing
// different keys.
func (j *jwtAuth) keysChanged() { j.gen.Add(1) }

func (j *jwtAuth) close() {
	for _, s := range j.sets {
		s.close()
	}
	j.sets = nil
}

// authenticate verifies a bearer token: the consumer and forward_claims headers, or
// why not. A token verified before is answered from the cache while its generation is
// current and now is within its validity; anything else (a miss, an entry expired,
// not yet valid or from older keys) is verified in full. Failures are never cached:
// a failing token pays for verification every time, and can never displace or shadow
// a good entry.
func (j *jwtAuth) authenticate(authz string, log *slog.Logger) (*jwtVerified, Reason) {
	const prefix = "bearer "
	if len(authz) < len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return nil, ReasonMissing
	}
	raw := strings.TrimSpace(authz[len(prefix):])
	if raw == "" || len(raw) > maxTokenBytes {
		return nil, ReasonMalformed
	}
	now := j.now()
	key := j.tokenKey(raw)
	// The generation is read before verifying, so keys changing during the
	// verification leave the new entry stale rather than valid under new keys.
	gen := j.gen.Load()
	if v, ok := j.lookup(key, raw, gen, now); ok {
		return v, ReasonNone
	}
	claims := jwt.MapClaims{}
	tok, err := j.parser.ParseWithClaims(raw, claims, j.keyfunc)
	if err != nil || tok == nil || !tok.Valid {
		why := j.reason(tok, err)
		log.Debug("jwt rejected", "reason", why.String(), "error", err)
		return nil, why
	}
	name, ok := claims[j.consumerClaim].(string)
	if !ok || !safeHeaderValue(name) {
		log.Debug("jwt rejected", "reason", ReasonClaims.String(), "error", errBadConsumer)
		return nil, ReasonClaims
	}
	c := &policy.Consumer{Name: name, Claims: claims}
	if known, ok := j.idx.byName[name]; ok {
		c.Groups, c.Meta, c.Scopes = known.Groups, known.Meta, known.Scopes
	}
	v := &jwtVerified{consumer: c, forward: j.forwardValues(claims), gen: gen}
	if j.validity(v, claims, now) {
		// Never raw itself: the HTTP/1.1 engine's header strings alias connection
		// buffers that the next request overwrites. The cost, len(raw), pays for this
		// copy. An entry already under key (the same token, or a colliding one) is
		// replaced.
		v.token = strings.Clone(raw)
		j.verified.put(key, v, len(raw))
	}
	return v, ReasonNone
}

// newJWTCache returns a verified-token cache keyed by tokenKey, sharded by the key's
// low bits (uniform: it is a hash).
func newJWTCache(maxEntries, maxBytes int) *boundedCache[uint64, *jwtVerified] {
	return newBoundedCache[uint64, *jwtVerified](maxEntries, maxBytes, func(k uint64) int { return int(k & (cacheShards - 1)) })
}

// tokenKey is the cache key of a token: a seeded 64-bit hash of the whole token
// (header, claims and signature), never a prefix. It replaced a SHA-256 digest: with
// the comparison that now carries the safety, a hit went from 434-457 to 332-367 ns
// (BenchmarkJWTCacheHit on the issue 6 box). It need not resist collisions: lookup
// compares the whole token, so two tokens sharing a key only evict each other. The
// per-jwtAuth seed, unknown to clients, keeps them from precomputing colliding tokens
// to do even that (maphash is not a cryptographic hash, so this is a nuisance bound;
// correctness rests on the comparison).
func (j *jwtAuth) tokenKey(raw string) uint64 { return maphash.String(j.seed, raw) }

// lookup returns the cached verification stored under key if it was made for exactly
// raw, under generation gen, and now is within its validity; otherwise false, and the
// caller verifies in full. It does not allocate.
func (j *jwtAuth) lookup(key uint64, raw string, gen uint64, now time.Time) (*jwtVerified, bool) {
	v, ok := j.verified.get(key)
	if !ok || v.gen != gen || !now.Before(v.notAfter) || now.Before(v.notBefore) || !sameToken(v.token, raw) {
		return nil, false
	}
	return v, true
}

// sameToken reports whether a and b are the same bytes, in constant time for equal
// lengths: the key already matched, so this runs only for the token that verified or
// a collision, but a token is a credential and is compared like one. The byte views
// do not copy ([]byte(s) would be the only allocation of a cache hit); subtle only
// reads them.
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	return subtle.ConstantTimeCompare(unsafe.Slice(unsafe.StringData(a), len(a)), unsafe.Slice(unsafe.StringData(b), len(b))) == 1
}

// validity sets v's validity window from the verified claims, applying the clock skew
// exactly as golang-jwt does (valid while now < exp+skew, now >= nbf-skew and
// now >= iat-skew), so a cached token expires when a fresh verification would fail.
// It reports false, and the token is not cached, if exp cannot be read (exp is
// required, so a verified token has one).
func (j *jwtAuth) validity(v *jwtVerified, claims jwt.MapClaims, now time.Time) bool {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return false
	}
	v.notAfter = now.Add(jwtCacheTTL)
	if t := exp.Add(j.leeway); t.Before(v.notAfter) {
		v.notAfter = t
	}
	for _, get := range [...]func() (*jwt.NumericDate, error){claims.GetNotBefore, claims.GetIssuedAt} {
		d, err := get()
		if err != nil {
			return false
		}
		if d != nil {
			if t := d.Add(-j.leeway); t.After(v.notBefore) {
				v.notBefore = t
			}
		}
	}
	return true
}

// keyfunc picks the keys a token may be verified with. A token naming a kid uses the
// keys with exactly that kid (static or from a JWK Set); only when none has it does it
// fall back to static keys configured without a kid. A token without kid may use any
// key. In every case only keys whose type fits the token's alg are returned.
func (j *jwtAuth) keyfunc(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var exact, loose []*verifyKey
	for _, k := range j.static {
		switch {
		case kid != "" && k.kid == kid:
			exact = append(exact, k)
		case kid == "" || k.kid == "":
			loose = append(loose, k)
		}
	}
	for _, s := range j.sets {
		if kid != "" {
			exact = append(exact, s.keys(kid)...)
		} else {
			loose = append(loose, s.keys("")...)
		}
	}
	cands := exact
	if len(exact) == 0 {
		cands = loose
	}
	var fit []jwt.VerificationKey
	for _, k := range cands {
		if k.fits(alg) {
			fit = append(fit, k.key)
		}
	}
	switch {
	case len(fit) == 1:
		return fit[0], nil
	case len(fit) > 1:
		return jwt.VerificationKeySet{Keys: fit}, nil
	case len(exact) == 0 && kid != "":
		return nil, errUnknownKey
	}
	return nil, errAlgorithm
}

// reason maps a golang-jwt error to a Reason. Claim errors are checked before the
// generic "invalid claims" they are wrapped in.
func (j *jwtAuth) reason(t *jwt.Token, err error) Reason {
	switch {
	case err == nil:
		return ReasonSignature
	case errors.Is(err, errUnknownKey):
		return ReasonUnknownKey
	case errors.Is(err, errAlgorithm):
		return ReasonAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return ReasonAlgorithm // unknown or unusable "alg"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t != nil && t.Method != nil && !slices.Contains(j.algs, t.Method.Alg()) {
			return ReasonAlgorithm // "none" and algorithms not configured land here
		}
		return ReasonSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ReasonIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ReasonAudience
	}
	return ReasonClaims
}

// forwardValues renders the configured claim headers; claims that are absent or cannot
// travel safely in a header are left out (their client copies are removed anyway).
func (j *jwtAuth) forwardValues(claims jwt.MapClaims) []headerValue {
	var out []headerValue
	for _, f := range j.forward {
		v, ok := claimString(policy.LookupClaim(claims, f.claim))
		if ok && safeHeaderValue(v) {
			out = append(out, headerValue{name: f.header, value: v})
		}
	}
	return out
}

// claimString renders a claim for a header: strings as they are, numbers and booleans
// in JSON form, arrays of those comma-joined, anything else as compact JSON.
func claimString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := claimString(e)
			if !ok {
				return "", false
			}
			if _, nested := e.([]any); nested {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}
