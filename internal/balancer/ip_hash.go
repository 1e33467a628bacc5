package balancer

import "math"

// IPHashName is the YAML name of IPHash.
const IPHashName = "ip_hash"

// IPHash is a Factory that sends each client IP to the same target while the pool is
// unchanged. It uses weighted rendezvous (highest random weight) hashing: every target
// scores hash(ip, target URL) and the best untried score wins. When a target joins or
// leaves, only the clients whose best target changed move — about 1/N of them — and a
// retry goes to the client's second-best target, itself stable. O(targets) per pick,
// with no table to rebuild. An invalid ClientIP falls back to weighted random.
func IPHash(p *Pool, _ Balancer) Balancer {
	return &ipHash{pool: p, seeds: targetSeeds(p), uniform: uniformWeights(p)}
}

type ipHash struct {
	pool    *Pool
	seeds   []uint64
	uniform bool
}

// Pick returns the untried target with the best rendezvous score for info.ClientIP.
func (b *ipHash) Pick(info *Info) (*Target, error) {
	if info == nil || !info.ClientIP.IsValid() {
		i := weightedRandomUntried(b.pool, info)
		if i < 0 {
			return nil, ErrNoTarget
		}
		return b.pool.Targets[i], nil
	}
	a := info.ClientIP.As16() // v4 maps into v6 form, so both families hash alike
	i := rendezvous(b.pool, info, b.seeds, fnv64Bytes(a[:]), b.uniform)
	if i < 0 {
		return nil, ErrNoTarget
	}
	return b.pool.Targets[i], nil
}

// targetSeeds hashes each target's URL, its identity across reloads, so that scores do
// not depend on config order or on which other targets exist.
func targetSeeds(p *Pool) []uint64 {
	s := make([]uint64, len(p.Targets))
	for i, t := range p.Targets {
		s[i] = mix64(fnv64(t.URL))
	}
	return s
}

// rendezvous returns the untried target maximising weight / -ln(u), u uniform in (0,1)
// from hash(key, target): the weighted HRW formula (Schindelhauer & Schomaker), under
// which each target wins a share of keys proportional to its weight. With equal
// weights the score is monotonic in the hash, so the hash is compared directly and the
// logarithms are skipped (same result, a third of the cost).
func rendezvous(p *Pool, info *Info, seeds []uint64, key uint64, uniform bool) int {
	best, bestScore := -1, 0.0
	var bestHash uint64
	for i := range p.Targets {
		if !untried(p, info, i) {
			continue
		}
		h := mix64(key ^ seeds[i])
		if uniform {
			if best < 0 || h > bestHash {
				best, bestHash = i, h
			}
			continue
		}
		u := (float64(h>>11) + 0.5) / (1 << 53) // in (0,1), never 0 or 1
		score := float64(weightAt(p, i)) / -math.Log(u)
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}
