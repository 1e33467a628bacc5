// Package balancer picks a target from a pool for one request or connection.
//
// Shape (modelled on grpc-go's picker): a Pool is an immutable snapshot of the targets
// that may currently take traffic. Whenever membership, health or slow-start weights
// change, the owner (a Set) builds a new Pool and a new Balancer for it and publishes
// both with one atomic pointer store. Picking therefore never locks, never blocks,
// does no I/O and does not allocate in steady state.
//
// Feedback flows through Target.State, which outlives pools and config reloads (the
// gateway keeps States in a registry keyed by upstream name and target URL): the
// caller calls State.Begin before using a target and State.End with the latency and
// outcome after, and least_connections, least_request and ewma read those counters.
// Passive health (outlier detection) and active health checks change a target's
// health through the Set, which republishes.
//
// Algorithms, one file each, YAML name a constant beside it; the name→constructor
// table is written out in balancers.go:
//
//	round_robin, weighted_round_robin, least_connections, least_request, ewma,
//	ip_hash, consistent_hash, random, sticky
//
// Every algorithm honours Info.Tried (a retry never gets a target twice) and
// Pool.Weights, and returns ErrNoTarget when nothing is left. Randomness comes from
// math/rand/v2's runtime generator (no lock, no allocation); hashing is a written-out
// FNV-1a plus a splitmix64 finaliser so results are stable across processes and
// replicas.
//
// Set is the owner: it keeps per-target flags in State (healthy, ejected until,
// drained, slow-start start time), builds the Pool from them — eligible = healthy, not
// ejected, not drained; under the panic threshold every non-drained target — and
// republishes on every change. Effective weights are configured weight × WeightScale,
// lowered linearly from 10% during slow start. Mutations serialise on a mutex; the
// only background work is one timer per ejection and, only while a target ramps, one
// ticker goroutine; Close stops both. Health checks and outlier detection (package
// health) drive a Set through SetHealthy and Eject; the admin API reads Status.
//
// Place in a request's path: step 6 — the proxy calls Set.Pick with the request's Info,
// State.Begin before the try and State.End after it; ErrNoTarget becomes a 503 problem.
// NewTarget parses configured target URLs; ParseKey parses hash_key specs (the proxy
// extracts the key's value from the request).
//
// "Nothing available" is ErrNoTarget. The package imports only the standard library.
package balancer
