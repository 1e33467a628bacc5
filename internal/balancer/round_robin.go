package balancer

import "sync/atomic"

// RoundRobinName is the YAML name of RoundRobin.
const RoundRobinName = "round_robin"

// RoundRobin is a Factory that hands out the pool's targets in turn, in config order.
// When the effective weights differ (configured weights, or a target in slow start) it
// builds the smooth weighted round robin instead, so that weights are always honoured,
// as NGINX's round-robin is; with equal weights the two give the same sequence and this
// one is a single atomic add.
func RoundRobin(p *Pool, prev Balancer) Balancer {
	if !uniformWeights(p) {
		return WeightedRoundRobin(p, prev)
	}
	b := &roundRobin{pool: p}
	b.next.Store(carryCounter(prev))
	return b
}

type roundRobin struct {
	pool *Pool
	next atomic.Uint64
}

// Pick returns the next target in turn, skipping tried ones.
func (b *roundRobin) Pick(info *Info) (*Target, error) {
	n := len(b.pool.Targets)
	if n == 0 {
		return nil, ErrNoTarget
	}
	start := int((b.next.Add(1) - 1) % uint64(n))
	i := nextUntried(b.pool, info, start)
	if i < 0 {
		return nil, ErrNoTarget
	}
	return b.pool.Targets[i], nil
}

// carryCounter returns the rotation position of a previous round-robin style balancer,
// so that a republish (health change, slow-start step) does not restart the rotation
// at the first target every time.
func carryCounter(prev Balancer) uint64 {
	switch b := prev.(type) {
	case *roundRobin:
		return b.next.Load()
	case *weightedRoundRobin:
		return b.next.Load()
	case *sticky:
		return b.wrr.next.Load()
	}
	return 0
}
