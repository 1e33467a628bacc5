package auth

import (
	"crypto/sha256"
	"sync"
)

// digest is the key of the Basic and mTLS verification caches: a SHA-256 of the
// credential (salted for Basic), never the credential itself. The JWT cache keys by a
// seeded 64-bit hash instead and keeps the token to compare (see jwtAuth.lookup).
type digest = [sha256.Size]byte

// cacheShards spreads a cache over this many mutexes so the requests of different
// cores rarely wait on the same one. A power of two: the shard is a few bits of the
// key masked.
const cacheShards = 16

// boundedCache is a bounded map from keys derived from credentials (digests or
// seeded hashes, never the credentials themselves) to verification results, so slow
// checks (bcrypt, x509 chains, JWT parsing) run once per credential. It is sharded by
// shardOf(key), which must be uniform (the keys are hashes, so a few of their bits
// are); each shard evicts its oldest insertions when it holds its share of
// maxEntries, or when an insertion would take it over its share of maxCost (0: no
// cost bound), so memory stays bounded also when entries differ in size (JWT claims).
// Callers decide what validity a value has, and whether a value found under a key
// really belongs to the credential presented; the cache only bounds how many are
// kept. Safe for concurrent use; get does not allocate.
type boundedCache[K comparable, V any] struct {
	shardOf func(K) int // in [0, cacheShards)
	shards  [cacheShards]cacheShard[K, V]
}

type cacheShard[K comparable, V any] struct {
	mu      sync.Mutex
	m       map[K]cacheItem[V]
	ring    []K // insertion order, a circular queue: head is the oldest
	head, n int
	cost    int // sum of the items' costs
	maxCost int

	_ [64]byte // keep neighbouring shards' mutexes off one cache line
}

type cacheItem[V any] struct {
	v    V
	cost int
}

// newBoundedCache returns a cache holding at most maxEntries values (rounded up to a
// multiple of the shard count) and, when maxCost > 0, a total cost of about maxCost,
// sharded by shardOf.
func newBoundedCache[K comparable, V any](maxEntries, maxCost int, shardOf func(K) int) *boundedCache[K, V] {
	per := max(1, (maxEntries+cacheShards-1)/cacheShards)
	c := &boundedCache[K, V]{shardOf: shardOf}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[K]cacheItem[V], per)
		s.ring = make([]K, per)
		if maxCost > 0 {
			s.maxCost = max(1, maxCost/cacheShards)
		}
	}
	return c
}

// newDigestCache returns a cache keyed by SHA-256 digests, sharded by their first
// byte; see newBoundedCache for the bounds.
func newDigestCache[V any](maxEntries, maxCost int) *boundedCache[digest, V] {
	return newBoundedCache[digest, V](maxEntries, maxCost, func(k digest) int { return int(k[0] & (cacheShards - 1)) })
}

func (c *boundedCache[K, V]) shard(k K) *cacheShard[K, V] {
	return &c.shards[c.shardOf(k)]
}

func (c *boundedCache[K, V]) get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.Lock()
	it, ok := s.m[k]
	s.mu.Unlock()
	return it.v, ok
}

// put stores v under k with the given cost (ignored without a cost bound). A value
// costing more than a whole shard's budget is not stored.
func (c *boundedCache[K, V]) put(k K, v V, cost int) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxCost == 0 {
		cost = 0
	} else if cost > s.maxCost {
		return
	}
	if old, ok := s.m[k]; ok {
		// Replaced in place: the key keeps its place in the insertion order. A larger
		// cost is paid back by the next insertion's evictions.
		s.m[k] = cacheItem[V]{v: v, cost: cost}
		s.cost += cost - old.cost
		return
	}
	for s.n > 0 && (s.n == len(s.ring) || s.maxCost > 0 && s.cost+cost > s.maxCost) {
		s.evictOldest()
	}
	s.ring[(s.head+s.n)%len(s.ring)] = k
	s.n++
	s.m[k] = cacheItem[V]{v: v, cost: cost}
	s.cost += cost
}

// evictOldest drops the oldest entry; the caller holds s.mu and s.n > 0.
func (s *cacheShard[K, V]) evictOldest() {
	k := s.ring[s.head]
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	s.cost -= s.m[k].cost
	delete(s.m, k)
}

func (c *boundedCache[K, V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
