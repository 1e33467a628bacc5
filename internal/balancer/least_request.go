package balancer

import "math/rand/v2"

// LeastRequestName is the YAML name of LeastRequest.
const LeastRequestName = "least_request"

// LeastRequest is a Factory for "power of two choices": pick two distinct untried
// targets uniformly at random and send the request to the one with fewer requests in
// flight relative to its weight, (InFlight+1)/weight. It is O(1), and unlike a full
// scan it does not send a whole burst to the one target that looked idlest a moment ago
// (in-flight counts lag behind concurrent picks). With equal weights and no load it
// degenerates to random.
func LeastRequest(p *Pool, _ Balancer) Balancer { return &leastRequest{pool: p} }

type leastRequest struct{ pool *Pool }

// Pick returns the less loaded of two random untried targets.
func (b *leastRequest) Pick(info *Info) (*Target, error) {
	a, c, ok := twoChoices(b.pool, info)
	if !ok {
		return nil, ErrNoTarget
	}
	if c >= 0 && lessLoaded(b.pool, c, a) < 0 {
		a = c
	}
	return b.pool.Targets[a], nil
}

// twoChoices draws two distinct untried targets (the second is -1 when only one is
// left); ok is false when none is. Drawing a random index and moving to the next
// untried one keeps the draw O(1) when nothing was tried.
func twoChoices(p *Pool, info *Info) (a, c int, ok bool) {
	n := len(p.Targets)
	if n == 0 {
		return -1, -1, false
	}
	a = nextUntried(p, info, rand.IntN(n))
	if a < 0 {
		return -1, -1, false
	}
	if n == 1 {
		return a, -1, true
	}
	// Second draw among the other n-1 positions, then skip tried ones and a itself.
	start := a + 1 + rand.IntN(n-1)
	if start >= n {
		start -= n
	}
	for k := 0; k < n; k++ {
		j := start + k
		if j >= n {
			j -= n
		}
		if j != a && untried(p, info, j) {
			return a, j, true
		}
	}
	return a, -1, true
}
