package balancer

import "strconv"

// StickyName is the YAML name of Sticky.
const StickyName = "sticky"

// Sticky is a Factory for cookie affinity: Info.Sticky (the cookie the client sent)
// names a target by StickyID; while that target is in the pool and not tried it gets
// the request. A missing, unknown or unavailable one falls back to smooth weighted
// round robin, and the proxy then sets the cookie to the StickyID of the target it got.
func Sticky(p *Pool, prev Balancer) Balancer {
	ids := make(map[string]int, len(p.Targets))
	for i, t := range p.Targets {
		ids[StickyID(t)] = i
	}
	wrr := WeightedRoundRobin(p, prev).(*weightedRoundRobin)
	return &sticky{pool: p, ids: ids, wrr: wrr}
}

type sticky struct {
	pool *Pool
	ids  map[string]int // immutable after construction, so lock-free to read
	wrr  *weightedRoundRobin
}

// Pick returns the target named by info.Sticky, or the weighted round robin's choice.
func (b *sticky) Pick(info *Info) (*Target, error) {
	if info != nil && info.Sticky != "" {
		if i, ok := b.ids[info.Sticky]; ok && untried(b.pool, info, i) {
			return b.pool.Targets[i], nil
		}
	}
	return b.wrr.Pick(info)
}

// StickyID returns the cookie value naming t: 16 hex digits of a hash of t.URL. It is
// stable across restarts, reloads and gateway replicas, and does not reveal the address
// directly (it is not a secret either: internal addresses can be guessed and hashed).
func StickyID(t *Target) string {
	if t == nil {
		return ""
	}
	s := strconv.FormatUint(mix64(fnv64(t.URL)), 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}
