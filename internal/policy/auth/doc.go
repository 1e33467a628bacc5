// Package auth authenticates requests on a route and maps credentials to consumers.
//
// One Policy (policy.OrderAuth) holds every method configured on the route: mTLS
// client certificates, API keys (header or query), HTTP Basic, and bearer JWTs. Any
// method may succeed; methods whose credential is absent are skipped, and when none
// succeeds the answer is 401 with a WWW-Authenticate challenge per configured method
// (RFC 9110 section 11.6.1, RFC 6750 section 3 for Bearer, RFC 7617 for Basic) and a
// client-safe detail naming the failure kind (expired, bad signature, ...). Internals
// (key IDs, issuer URLs, library errors) go to the log at debug level, never to the
// client. Failure kinds are a small enum, Reason, for metrics (Options.OnResult).
//
// On success the Policy sets policy.Request.Consumer and the consumer header upstream.
// Client-supplied copies of the consumer header and of JWT forward_claims headers are
// removed on every request, before any check, also when authentication fails; routes
// without auth get the same treatment from StripConsumerHeader, which the gateway runs
// on every request.
//
// Secrets in memory: API keys are held only as SHA-256 digests, looked up in a map and
// compared in constant time; Basic passwords are bcrypt or argon2id hashes. Verified
// Basic credentials are cached (salted SHA-256 of user and password, bounded FIFO,
// positives only) so bcrypt's deliberate cost is paid once per credential and policy,
// not per request; the trade-off is that a process memory dump exposes fast hashes of
// recently used passwords instead of only slow ones. Failed attempts always pay the
// full hash cost, so combine Basic with rate limiting.
//
// JWTs are verified by github.com/golang-jwt/jwt/v5 (no hand-written signature
// checks). Every key is pinned to the algorithms of its type (RSA: RS*/PS*, P-256:
// ES256, P-384: ES384, P-521: ES512, Ed25519: EdDSA, secrets: HS*), so "alg": "none"
// and HS-signed tokens verified with an RSA public key are refused before any
// signature check. JWK Sets are fetched over HTTP(S) (parsed with go-jose's JWK
// types), refreshed in the background, and re-fetched when a token names an unknown
// kid at most once per unknown_kid_interval, so clients cannot make the gateway hammer
// the identity provider. The JWKS cache is small and written here rather than taken
// from a JWKS library because the rate limit must never block a request behind a
// limiter wait and the per-key algorithm pinning must be ours.
//
// Verified JWTs are cached per Policy (so per route and per reload: each route's
// issuer, audience and algorithm requirements are its own), because parsing and
// decoding the claims costs more than proxying the request (issue 6). The key is a
// seeded 64-bit hash (hash/maphash) of the whole token, cheaper per hit than a
// SHA-256; each entry keeps its own copy of the token and answers only a token equal
// to it, so a key collision costs a full verification, never a wrong consumer. An
// entry holds the consumer and the rendered forward_claims headers and is used only
// while exp, nbf and iat (with the clock skew, as the verifier applies them)
// allow, for at most five minutes, and only while the key generation it was verified
// under is current: a JWKS fetch that installs different keys bumps the generation, so
// a token whose key was rotated out is verified again (and refused) on its next use.
// Failures are never cached. The cache is bounded in entries and in token bytes, and
// sharded so cores rarely share a lock; a hit does not allocate. Cached consumers
// (and their Claims) are shared by every request presenting the token, so later
// policies must treat policy.Consumer as read-only, as they already must for the
// consumers of API keys and certificates.
//
// Concurrency: a Policy is immutable after New except for its caches (sharded,
// mutex-guarded), JWKS tables (atomic pointer swaps) and the key generation (atomic);
// it is safe for concurrent use. Close stops
// the background JWKS refreshers; the gateway calls it when the snapshot that owns the
// policy is drained.
package auth
