// Package authz decides whether an authenticated consumer may use a route: allowed
// consumer names, required scopes, claim rules and group allow/deny lists. Every
// configured rule must hold; a refusal is 403 "forbidden" (the client is known but not
// allowed), while a request without a consumer is 401 — auth runs first
// (policy.OrderAuth before policy.OrderAuthz) and config validation requires auth on
// any route with authorize.
//
// Scopes granted are the consumer's configured scopes plus, for JWTs, the "scope"
// claim (space-separated string, RFC 8693 section 4.2) and the "scp" claim (array or
// string, as some IdPs send it). A missing scope also adds a Bearer challenge with
// error="insufficient_scope" (RFC 6750 section 3.1) for JWT consumers.
//
// A Policy is immutable and safe for concurrent use.
package authz
