package balancer

import "math/rand/v2"

// LeastConnectionsName is the YAML name of LeastConnections.
const LeastConnectionsName = "least_connections"

// LeastConnections is a Factory that picks the target with the fewest requests in flight
// relative to its weight, (State.InFlight()+1)/weight, scanning every target; ties are
// broken uniformly at random so that idle targets share the load instead of the first
// one taking every burst. Suits long-lived connections (tcp, websockets, streaming)
// where the in-flight count is the load; O(targets) per pick.
func LeastConnections(p *Pool, _ Balancer) Balancer { return &leastConnections{pool: p} }

type leastConnections struct{ pool *Pool }

// Pick returns the least loaded untried target.
func (b *leastConnections) Pick(info *Info) (*Target, error) {
	p := b.pool
	best, ties := -1, 0
	for i := range p.Targets {
		if !untried(p, info, i) {
			continue
		}
		if best < 0 {
			best, ties = i, 1
			continue
		}
		switch lessLoaded(p, i, best) {
		case -1:
			best, ties = i, 1
		case 0:
			// Reservoir sampling: the k-th tie replaces the choice with probability 1/k,
			// which leaves each tied target equally likely without a second pass.
			ties++
			if rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	if best < 0 {
		return nil, ErrNoTarget
	}
	return p.Targets[best], nil
}
