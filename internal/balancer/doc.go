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
// "Nothing available" is ErrNoTarget. The package imports only the standard library.
package balancer
