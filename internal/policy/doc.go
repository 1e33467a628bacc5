// Package policy holds the contract every per-route policy implements, the fixed order
// in which policies run, and the chain builder.
//
// A Policy sees a small Request view, not net/http types, so the same policy serves the
// net/http path, a dedicated HTTP/1.1 fast path and gRPC. Apply either lets the request
// continue (nil) or answers early with an *Answer (401, 403, 413, 429, a CORS preflight
// 204, ...), which the caller renders (problem+json unless the answer has its own body).
// Policies may add response headers through Request.RespHeader and register work to run
// when the exchange ends through Request.OnDone (release a concurrency slot, count bytes).
//
// Order is fixed by the Order table below; users enable policies, never reorder them.
// Policies are built once per snapshot from their config section (construction errors
// carry the config position) and are safe for concurrent use. State that must survive a
// reload (rate-limit buckets, breaker state) is owned by a registry outside the policy
// and handed to it at construction.
//
// The concrete policies live in subpackages (internal/policy/auth, authz, ratelimit,
// cors, ipfilter, limits, headers); the gateway holds the name→constructor table, since
// this package cannot import them.
package policy
