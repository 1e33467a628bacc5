package auth

import (
	"crypto/sha256"
	"strconv"
	"testing"
)

func keyOf(i int) digest { return sha256.Sum256([]byte(strconv.Itoa(i))) }

func TestDigestCacheBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		maxEntries int
		maxCost    int
		puts       int
		cost       int
		wantMax    int // len() after the puts is at most this
		wantMin    int // and at least this
	}{
		{name: "below the bound keeps all", maxEntries: 1024, puts: 100, cost: 1, wantMin: 100, wantMax: 100},
		{name: "entry bound", maxEntries: 64, puts: 10_000, cost: 1, wantMin: 1, wantMax: 64},
		{name: "cost bound", maxEntries: 1024, maxCost: 16 * 100, puts: 10_000, cost: 10, wantMin: 1, wantMax: 160},
		{name: "too costly for a shard: not stored", maxEntries: 1024, maxCost: 16 * 100, puts: 50, cost: 101, wantMin: 0, wantMax: 0},
		{name: "no cost bound ignores cost", maxEntries: 64, puts: 64, cost: 1 << 30, wantMin: 1, wantMax: 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newDigestCache[int](tc.maxEntries, tc.maxCost)
			for i := range tc.puts {
				c.put(keyOf(i), i, tc.cost)
			}
			if got := c.len(); got < tc.wantMin || got > tc.wantMax {
				t.Fatalf("len() = %d, want %d..%d", got, tc.wantMin, tc.wantMax)
			}
			for i := range c.shards {
				s := &c.shards[i]
				if s.n != len(s.m) {
					t.Fatalf("shard %d queue holds %d keys, map %d", i, s.n, len(s.m))
				}
				if s.maxCost > 0 && s.cost > s.maxCost {
					t.Fatalf("shard %d cost = %d, want <= %d", i, s.cost, s.maxCost)
				}
			}
			// The newest insertion always survives (FIFO evicts the oldest).
			if tc.wantMax > 0 {
				last := tc.puts - 1
				if v, ok := c.get(keyOf(last)); !ok || v != last {
					t.Fatalf("get(newest) = %d, %v, want %d, true", v, ok, last)
				}
			}
		})
	}
}

func TestDigestCacheReplaceInPlace(t *testing.T) {
	t.Parallel()
	c := newDigestCache[string](16, 0) // one entry per shard
	k := keyOf(1)
	c.put(k, "a", 0)
	c.put(k, "b", 0)
	if got := c.len(); got != 1 {
		t.Fatalf("len() after replacing = %d, want 1", got)
	}
	if v, _ := c.get(k); v != "b" {
		t.Fatalf("get() = %q, want b", v)
	}
}

func BenchmarkDigestCacheGetParallel(b *testing.B) {
	c := newDigestCache[*jwtVerified](jwtCacheEntries, jwtCacheBytes)
	keys := make([]digest, 256)
	for i := range keys {
		keys[i] = keyOf(i)
		c.put(keys[i], &jwtVerified{}, 1000)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.get(keys[i&255]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}
