// Package admin is the admin listener: a versioned JSON API under /api/v1/ to inspect
// and steer the running gateway, Prometheus /metrics, and the live dashboard.
//
// # What it does
//
//   - status, config (secrets redacted), routes, upstreams with each target's state;
//   - reload (through the caller's Reload func), drain/undrain a target, validate a
//     config body and show its diff against the running config without applying it;
//   - explain: which route a request would take, which nearly matched and why not,
//     which policies run, which upstream and target would be picked;
//   - statistics for the dashboard: a sampler gathers the metrics registry every
//     second and keeps per-route and per-upstream requests/s, error share and
//     p50/p95/p99 latency (from histogram bucket deltas over a sliding window) for the
//     last five minutes; GET /api/v1/stats and the SSE stream /api/v1/stats/stream
//     serve them;
//   - the dashboard itself (package web, embedded; no CDN, works offline).
//
// Every error is problem+json (RFC 9457). When a token is set, every API request and
// /metrics needs "Authorization: Bearer TOKEN" (compared in constant time), loopback
// included; without one, Serve refuses a listener that is not loopback. The dashboard's
// static files need no token (they hold no data); the page asks for the token.
//
// # What it does not do
//
// It does not load config files (the caller's Reload does), keep any state of the
// gateway (it reads the gateway through the small Gateway interface on each request),
// or touch the request path: the dashboard's numbers come from the same metrics a
// Prometheus scrape reads.
//
// # Concurrency
//
// New starts one goroutine, the sampler; Shutdown stops it and the HTTP server. All
// handlers are safe for concurrent use; statistics streams wait on a channel the
// sampler closes after each sample, so any number of viewers cost one sample a second.
package admin
