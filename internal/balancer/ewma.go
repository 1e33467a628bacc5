package balancer

import "time"

// EWMAName is the YAML name of EWMA.
const EWMAName = "ewma"

// EWMA is a Factory for peak-EWMA balancing as in Finagle and Linkerd: each target's
// cost is its peak-EWMA response time (State.EWMA) × (InFlight+1) / weight, so a target
// that is slow, or busy, or both, gets less traffic, and a latency spike takes effect at
// once while recovery decays over ~10s.
//
// Choice: best of two random untried targets (power of two choices), as Linkerd and
// Finagle do, rather than a full scan. A scan always picks the single cheapest target,
// so every concurrent pick lands on it until its in-flight count catches up (herding);
// two choices spread load while still avoiding the slow target whenever it is compared
// with a fast one. A target with no sample yet is charged defaultRTT so that it is
// probed without being flooded.
func EWMA(p *Pool, _ Balancer) Balancer { return &ewma{pool: p} }

// defaultRTT is the assumed latency of a target without samples (Linkerd uses 30ms).
const defaultRTT = 30 * time.Millisecond

type ewma struct{ pool *Pool }

// Pick returns the cheaper of two random untried targets.
func (b *ewma) Pick(info *Info) (*Target, error) {
	a, c, ok := twoChoices(b.pool, info)
	if !ok {
		return nil, ErrNoTarget
	}
	if c >= 0 && b.cost(c) < b.cost(a) {
		a = c
	}
	return b.pool.Targets[a], nil
}

func (b *ewma) cost(i int) float64 {
	s := b.pool.Targets[i].State
	rtt := s.EWMA()
	if rtt <= 0 {
		rtt = defaultRTT
	}
	return float64(rtt) * float64(s.InFlight()+1) / float64(weightAt(b.pool, i))
}
