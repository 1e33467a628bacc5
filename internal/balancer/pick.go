package balancer

import "math/rand/v2"

// Helpers shared by the algorithms. Randomness comes from math/rand/v2's top-level
// functions: they use the runtime's per-thread generator, so they neither lock nor
// allocate (a *rand.Rand would need a mutex to be shared).

// weightAt returns the effective weight of target i, treating a missing or
// non-positive entry as 1 so a hand-built Pool without Weights still works.
func weightAt(p *Pool, i int) int64 {
	if i < len(p.Weights) && p.Weights[i] > 0 {
		return int64(p.Weights[i])
	}
	return 1
}

// uniformWeights reports whether every target has the same effective weight.
func uniformWeights(p *Pool) bool {
	for i := 1; i < len(p.Targets); i++ {
		if weightAt(p, i) != weightAt(p, 0) {
			return false
		}
	}
	return true
}

// untried reports whether target i of p may be picked for info.
func untried(p *Pool, info *Info, i int) bool {
	return info == nil || len(info.Tried) == 0 || !info.tried(p.Targets[i])
}

// nextUntried returns the first index at or after start (cyclically) whose target is
// not in info.Tried, or -1 when all are tried.
func nextUntried(p *Pool, info *Info, start int) int {
	n := len(p.Targets)
	for k := 0; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		if untried(p, info, i) {
			return i
		}
	}
	return -1
}

// weightedRandomUntried picks an untried target with probability proportional to its
// weight, or returns -1 when all are tried. Two passes: total, then the draw.
func weightedRandomUntried(p *Pool, info *Info) int {
	var total int64
	for i := range p.Targets {
		if untried(p, info, i) {
			total += weightAt(p, i)
		}
	}
	if total == 0 {
		return -1
	}
	r := rand.Int64N(total)
	for i := range p.Targets {
		if !untried(p, info, i) {
			continue
		}
		r -= weightAt(p, i)
		if r < 0 {
			return i
		}
	}
	return -1 // not reached: r < total
}

// lessLoaded reports whether a's load relative to its weight, (inflight+1)/weight, is
// below b's; cross-multiplied to stay in integers. The +1 makes weight matter when
// nothing is in flight (as HAProxy's leastconn does).
func lessLoaded(p *Pool, a, b int) int {
	la := (p.Targets[a].State.InFlight() + 1) * weightAt(p, b)
	lb := (p.Targets[b].State.InFlight() + 1) * weightAt(p, a)
	switch {
	case la < lb:
		return -1
	case la > lb:
		return 1
	}
	return 0
}

// fnv64 hashes s with FNV-1a, written out because hash/fnv's hasher escapes to the heap
// and a pick must not allocate. The result is stable across processes and versions,
// which matters for hashing: several gateway replicas must map a key alike.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// fnv64Bytes is fnv64 for a byte slice.
func fnv64Bytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser: it spreads FNV's weak low bits over the whole
// word so that combined hashes (key ^ target) are uniform.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
