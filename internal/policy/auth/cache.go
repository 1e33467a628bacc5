package auth

import "sync"

// fifoCache is a bounded map evicting the oldest insertion. It caches verification
// results (never secrets) so slow checks (bcrypt, x509 chains) run once per credential.
type fifoCache[K comparable, V any] struct {
	mu   sync.Mutex
	m    map[K]V
	ring []K
	next int
}

func newFIFOCache[K comparable, V any](size int) *fifoCache[K, V] {
	return &fifoCache[K, V]{m: make(map[K]V, size), ring: make([]K, 0, size)}
}

func (c *fifoCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *fifoCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		c.m[k] = v
		return
	}
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, k)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = v
}

func (c *fifoCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
