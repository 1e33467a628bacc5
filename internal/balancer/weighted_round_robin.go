package balancer

import "sync/atomic"

// WeightedRoundRobinName is the YAML name of WeightedRoundRobin.
const WeightedRoundRobinName = "weighted_round_robin"

// maxSchedule caps the precomputed schedule (entries of 4 bytes). Weights whose reduced
// sum exceeds it are scaled down proportionally, which shifts shares by at most about
// half a slot per target: below 0.1% for ten targets.
const maxSchedule = 1 << 14

// WeightedRoundRobin is a Factory for NGINX's smooth weighted round robin: over one
// period of sum(weights) picks each target is chosen weight times, interleaved (weights
// 5,1,1 give a a b a c a a) rather than in bursts.
//
// NGINX keeps a mutable "current weight" per target under a lock. Here the whole period
// is computed once per pool (the sequence is periodic and depends only on the weights)
// and a pick is one atomic add plus an index, which keeps Pick lock-free. Building costs
// O(period × targets), paid on republish, not per request.
func WeightedRoundRobin(p *Pool, prev Balancer) Balancer {
	b := &weightedRoundRobin{pool: p, schedule: buildSchedule(p)}
	b.next.Store(carryCounter(prev))
	return b
}

type weightedRoundRobin struct {
	pool     *Pool
	schedule []uint32
	next     atomic.Uint64
}

// Pick returns the next target of the schedule, skipping tried ones.
func (b *weightedRoundRobin) Pick(info *Info) (*Target, error) {
	n := len(b.schedule)
	if n == 0 {
		return nil, ErrNoTarget
	}
	start := int((b.next.Add(1) - 1) % uint64(n))
	i := b.schedule[start]
	if untried(b.pool, info, int(i)) {
		return b.pool.Targets[i], nil
	}
	// Retry path: keep walking the schedule so the remaining targets still get their
	// weighted turn. Every target occurs in the schedule, so one period finds any
	// untried one.
	for k := 1; k < n; k++ {
		j := start + k
		if j >= n {
			j -= n
		}
		if i := b.schedule[j]; untried(b.pool, info, int(i)) {
			return b.pool.Targets[i], nil
		}
	}
	return nil, ErrNoTarget
}

// buildSchedule computes one period of smooth weighted round robin: each step adds every
// target's weight to its current value, picks the largest (first on ties, as NGINX) and
// subtracts the total from it.
func buildSchedule(p *Pool) []uint32 {
	n := len(p.Targets)
	if n == 0 {
		return nil
	}
	w := make([]int64, n)
	var g int64
	for i := range w {
		w[i] = weightAt(p, i)
		g = gcd(g, w[i])
	}
	var total int64
	for i := range w {
		w[i] /= g
		total += w[i]
	}
	if total > maxSchedule {
		scaled := int64(0)
		for i := range w {
			w[i] = max(1, (w[i]*maxSchedule+total/2)/total)
			scaled += w[i]
		}
		total = scaled
	}
	cur := make([]int64, n)
	sched := make([]uint32, total)
	for k := range sched {
		best := -1
		for i := range cur {
			cur[i] += w[i]
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		sched[k] = uint32(best)
	}
	return sched
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
