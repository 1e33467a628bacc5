package balancer

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Balancer picks one target from the Pool it was built for. Implementations are safe
// for concurrent use, never block and do not allocate in steady state.
type Balancer interface {
	// Pick returns a target, or ErrNoTarget when every eligible target is excluded by
	// info.Tried or the pool is empty.
	Pick(info *Info) (*Target, error)
}

// Factory builds a Balancer for one immutable pool. prev is the balancer built for the
// previous pool of the same Set (nil the first time), so state such as a round-robin
// position may carry over.
type Factory func(p *Pool, prev Balancer) Balancer

// Info carries the request facts a pick may need. Callers reuse one Info per request.
type Info struct {
	// ClientIP is the client's address (after trusted-proxy resolution).
	ClientIP netip.Addr
	// Key is the consistent_hash key already extracted by the caller (see ParseKey), or "".
	Key string
	// Tried lists targets already tried for this request; Pick avoids them.
	Tried []*Target
	// Sticky is the value of the sticky cookie sent by the client, or "".
	Sticky string
}

// Tried reports whether t is in info.Tried.
func (info *Info) tried(t *Target) bool {
	if info == nil {
		return false
	}
	for _, x := range info.Tried {
		if x == t {
			return true
		}
	}
	return false
}

// Target is one server of an upstream as the balancer sees it.
type Target struct {
	// URL is the configured form, e.g. "http://127.0.0.1:9001" or "127.0.0.1:5432"; it is
	// the target's identity across reloads.
	URL string
	// Scheme is "http", "https" or "h2c" for HTTP targets, "" for tcp/udp.
	Scheme string
	// Addr is host:port to dial.
	Addr string
	// Weight is the configured weight (>= 1).
	Weight int
	// State is shared with every pool and every snapshot that contains this target.
	State *State
}

// State is the live, shared state of one target. All methods are safe for concurrent use.
type State struct {
	inflight atomic.Int64
	// ewmaNanos holds the peak-EWMA of response time in nanoseconds (float64 bits).
	ewmaBits atomic.Uint64
	// lastEnd is the unix-nano time of the last End, for EWMA decay.
	lastEnd  atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64

	// Flags owned by the Set (health.go documents each); zero values mean "healthy,
	// in rotation", so a fresh State takes traffic until a check says otherwise.
	down         atomic.Bool
	drained      atomic.Bool
	ejectedUntil atomic.Int64 // unix nanos; 0 when not ejected
	ejections    atomic.Int64
	recoveredAt  atomic.Int64 // unix nanos when it last became eligible again; 0: not ramping
	lastCheck    atomic.Pointer[CheckResult]
}

// Begin records that a request or connection to the target starts.
func (s *State) Begin() { s.inflight.Add(1) }

// End records that one started with Begin finished after rtt; failed is true for a
// connect failure, a timeout or a 5xx answer.
func (s *State) End(rtt time.Duration, failed bool) {
	s.inflight.Add(-1)
	s.requests.Add(1)
	if failed {
		s.failures.Add(1)
	}
	s.observe(rtt)
}

// InFlight returns the number of started, unfinished requests.
func (s *State) InFlight() int64 { return s.inflight.Load() }

// Requests returns the number of finished requests and how many of them failed.
func (s *State) Requests() (total, failed uint64) { return s.requests.Load(), s.failures.Load() }

// Pool is an immutable snapshot of the targets eligible for traffic, in config order.
type Pool struct {
	// Targets are the eligible ones (healthy, not ejected, not drained), or all of them
	// when the panic threshold was crossed.
	Targets []*Target
	// Weights holds each eligible target's effective weight (slow start lowers it), same order.
	// A Set publishes configured weight × WeightScale × slow-start factor; balancers accept
	// any positive integers.
	Weights []int
	// TotalWeight is the sum of Weights.
	TotalWeight int
	// HashKey is the upstream's consistent_hash key spec (e.g. "header:X-User").
	HashKey string
}
