// Package health decides whether targets should take traffic, actively and passively.
//
// Active checks (Checker): one goroutine per target probes it every interval (plus
// random jitter, so that many gateways and targets do not probe in lockstep), each
// probe bounded by a timeout. Probe types: http (GET path, optional Host header,
// expected status range, optional body substring within the first 64KiB), tcp (a
// connect) and grpc (grpc.health.v1 Check for a service name). Consecutive results
// are counted: unhealthy_threshold failures mark a target down, healthy_threshold
// passes bring it back. Targets start healthy (a State says healthy until told
// otherwise, and a reload keeps the previous verdict), so a new gateway sends traffic
// at once instead of waiting thresholds × interval; a dead target is out after
// unhealthy_threshold checks. Verdict changes go through the small StatusSetter
// interface, which *balancer.Set implements (it republishes its pool); each probe's
// outcome is also stored in the target's State for the admin API.
//
// Passive checks (Outlier): the proxy calls Observe after every try with whether it
// failed (connect failure, timeout, 5xx). consecutive_failures in a row eject the
// target through the Ejector interface (again *balancer.Set) for base_ejection ×
// (previous ejections + 1), capped at max_ejection; a success resets the count. The
// Set refuses ejections beyond its max-ejected share and ends each ejection on a
// timer. The gateway copies outlier.max_ejected_percent and outlier.panic_threshold
// into balancer.SetOptions; they are the Set's rules, not the Outlier's.
//
// What it does not do: pick targets (package balancer), retry requests (package
// proxy), export metrics (the gateway reads Set.Status). Concurrency: Checker's
// goroutines are started by Start and stopped, and waited for, by Stop; Observe is
// lock-free (per-target atomic counters) and safe from any goroutine.
//
// Place in a request's path: off the path for active checks; Observe runs after each
// upstream try, once the proxy knows the outcome.
package health
