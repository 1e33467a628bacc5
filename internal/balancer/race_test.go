//go:build race

package balancer

// raceEnabled: the race detector's instrumentation may allocate, so allocation
// assertions are skipped under -race (the benchmarks still report allocs/op).
const raceEnabled = true
