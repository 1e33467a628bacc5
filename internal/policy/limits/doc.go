// Package limits bounds what a request on a route may send: today the body size.
//
// Apply answers 413 at once when the declared Content-Length exceeds the cap, and
// otherwise sets policy.Request.LimitBody so the caller enforces the cap while
// streaming (chunked bodies, lying clients) — a body is never read to the end first.
// A Limits is immutable and safe for concurrent use. It runs at policy.OrderLimits,
// before authentication, so oversized bodies are refused without any crypto work.
package limits
