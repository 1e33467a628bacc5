package balancer

import (
	"cmp"
	"math"
	"slices"
)

// ConsistentHashName is the YAML name of ConsistentHash.
const ConsistentHashName = "consistent_hash"

// DefaultEpsilon is the default bounded-load slack of ConsistentHash: no target takes
// more than ceil(1.25 × its weighted share of the in-flight requests).
const DefaultEpsilon = 0.25

// ringPoints is the number of virtual nodes of a target with the largest weight; others
// get proportionally fewer (at least one). 160 points keep the spread of key shares
// within roughly ±10%, and the bounded load evens out what remains.
const ringPoints = 160

// maxRing caps the ring's size; huge pools get fewer points per target.
const maxRing = 1 << 16

// ConsistentHash is NewConsistentHash(DefaultEpsilon).
func ConsistentHash(p *Pool, prev Balancer) Balancer {
	return NewConsistentHash(DefaultEpsilon)(p, prev)
}

// NewConsistentHash returns a Factory for consistent hashing of Info.Key on a ring of
// virtual nodes (hashes of the target URL, so positions survive reloads and do not
// depend on config order), with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018):
// a target already holding ceil((1+epsilon) × (in-flight+1) × weight/total weight)
// requests is passed over for the next one on the ring. Adding or removing one of N
// targets moves about 1/N of the keys. epsilon <= 0 means DefaultEpsilon. An empty Key
// falls back to weighted random, since hashing "" would send every keyless request to
// one target.
func NewConsistentHash(epsilon float64) Factory {
	if epsilon <= 0 || math.IsNaN(epsilon) {
		epsilon = DefaultEpsilon
	}
	return func(p *Pool, _ Balancer) Balancer {
		return &consistentHash{pool: p, ring: buildRing(p), factor: 1 + epsilon, totalWeight: totalWeight(p)}
	}
}

type ringPoint struct {
	hash   uint64
	target uint32
}

type consistentHash struct {
	pool        *Pool
	ring        []ringPoint
	factor      float64
	totalWeight int64
}

// Pick walks the ring clockwise from hash(info.Key) to the first untried target under
// its load bound; when every untried target is at its bound (possible only once tried
// targets are excluded) it takes the first untried one on the ring.
func (b *consistentHash) Pick(info *Info) (*Target, error) {
	p := b.pool
	if info == nil || info.Key == "" {
		i := weightedRandomUntried(p, info)
		if i < 0 {
			return nil, ErrNoTarget
		}
		return p.Targets[i], nil
	}
	n := len(b.ring)
	if n == 0 {
		return nil, ErrNoTarget
	}
	var inflight int64
	for _, t := range p.Targets {
		inflight += max(0, t.State.InFlight())
	}
	// The request being placed counts, so that an idle pool still admits it.
	load := b.factor * float64(inflight+1) / float64(b.totalWeight)

	h := mix64(fnv64(info.Key))
	pos := searchRing(b.ring, h)
	fallback := -1
	for k := 0; k < n; k++ {
		j := pos + k
		if j >= n {
			j -= n
		}
		i := int(b.ring[j].target)
		if !untried(p, info, i) {
			continue
		}
		if fallback < 0 {
			fallback = i
		}
		limit := math.Ceil(load * float64(weightAt(p, i)))
		if float64(p.Targets[i].State.InFlight()+1) <= limit {
			return p.Targets[i], nil
		}
	}
	if fallback < 0 {
		return nil, ErrNoTarget
	}
	return p.Targets[fallback], nil
}

// searchRing returns the index of the first point with hash >= h, wrapping to 0.
// Written out rather than sort.Search to keep the pick free of a closure call per step.
func searchRing(ring []ringPoint, h uint64) int {
	lo, hi := 0, len(ring)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ring[m].hash < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(ring) {
		return 0
	}
	return lo
}

func totalWeight(p *Pool) int64 {
	var w int64
	for i := range p.Targets {
		w += weightAt(p, i)
	}
	return max(w, 1)
}

// buildRing places ringPoints × weight/maxWeight points per target at
// mix64(hash(URL) + k × golden ratio), sorted by hash.
func buildRing(p *Pool) []ringPoint {
	var maxW, sum int64
	for i := range p.Targets {
		maxW = max(maxW, weightAt(p, i))
	}
	points := make([]int64, len(p.Targets))
	for i := range p.Targets {
		points[i] = max(1, (ringPoints*weightAt(p, i)+maxW/2)/max(maxW, 1))
		sum += points[i]
	}
	if sum > maxRing {
		for i := range points {
			points[i] = max(1, points[i]*maxRing/sum)
		}
	}
	ring := make([]ringPoint, 0, sum)
	for i, t := range p.Targets {
		base := fnv64(t.URL)
		for k := int64(0); k < points[i]; k++ {
			ring = append(ring, ringPoint{hash: mix64(base + uint64(k)*0x9e3779b97f4a7c15), target: uint32(i)})
		}
	}
	slices.SortFunc(ring, func(a, b ringPoint) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.target, b.target) // deterministic on the (rare) collision
	})
	return ring
}
