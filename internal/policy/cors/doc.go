// Package cors implements the CORS protocol of the Fetch standard for a route: the
// gateway answers preflights itself (204, no body) and adds the Access-Control-*
// headers to actual cross-origin responses.
//
// Origins are matched exactly (ASCII case-insensitively), by "*", or by a pattern with
// one leading wildcard ("https://*.example.com" matches any subdomain depth, never the
// bare domain, and the scheme and port must match). A preflight from an origin, method
// or header that is not allowed is answered 403 so the browser blocks the request and
// the reason is visible in the network tab; an actual request from an unknown origin
// passes without CORS headers (the browser hides the response from the script).
//
// It does not authenticate: preflights carry no credentials, which is why CORS runs
// before auth (policy.OrderCORS). A Policy is immutable and safe for concurrent use.
package cors
