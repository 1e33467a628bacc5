package proxy

import "sync/atomic"

// BreakerOptions mirror config.CircuitBreaker.
type BreakerOptions struct {
	// MaxRequests caps requests in flight to the upstream (0: no cap).
	MaxRequests int
	// MaxPending caps requests waiting for a connection once MaxConnections are busy
	// (0: no cap). net/http's transport queues such requests internally and does not
	// expose the queue, so the breaker counts them as "in flight beyond
	// MaxConnections": it admits at most MaxConnections+MaxPending requests when both
	// are set. On HTTP/1.1 each in-flight request holds one connection, so this is
	// exact; on HTTP/2 it is conservative.
	MaxPending int
	// MaxConnections caps connections to the upstream. The transport enforces it per
	// target: the gateway sets TransportOptions.MaxConnsPerHost to
	// MaxConnections/len(targets) (at least 1).
	MaxConnections int
}

// Breaker is an upstream's circuit breaker in the Envoy sense: a cap on concurrent
// work, answered with 503 circuit_open the moment it is reached, instead of queueing
// into an overloaded upstream. It is shared by every route to the upstream and kept
// across reloads. Safe for concurrent use; lock-free. A nil *Breaker admits everything.
type Breaker struct {
	limit    int64 // 0: no cap
	inflight atomic.Int64
}

// NewBreaker returns a Breaker for o.
func NewBreaker(o BreakerOptions) *Breaker {
	limit := int64(o.MaxRequests)
	if o.MaxConnections > 0 && o.MaxPending > 0 {
		if l := int64(o.MaxConnections + o.MaxPending); limit == 0 || l < limit {
			limit = l
		}
	}
	return &Breaker{limit: limit}
}

// Acquire admits one request, or reports false when the cap is reached. Every true
// must be paired with one Release.
func (b *Breaker) Acquire() bool {
	if b == nil {
		return true
	}
	n := b.inflight.Add(1)
	if b.limit > 0 && n > b.limit {
		b.inflight.Add(-1)
		return false
	}
	return true
}

// Release ends one admitted request.
func (b *Breaker) Release() {
	if b != nil {
		b.inflight.Add(-1)
	}
}

// InFlight returns the admitted, unreleased requests.
func (b *Breaker) InFlight() int64 {
	if b == nil {
		return 0
	}
	return b.inflight.Load()
}
