//go:build !unix

package gateway

import "time"

// cpuTime is not measured here (no getrusage): BenchmarkGateway's cpu-ns/op reads 0.
func cpuTime() time.Duration { return 0 }
