package balancer

import (
	"math"
	"slices"
	"strconv"
	"testing"
)

// hashCases are the two hash balancers with the Info field each hashes.
var hashCases = []struct {
	name string
	info func(i int) *Info
}{
	{name: IPHashName, info: func(i int) *Info { return &Info{ClientIP: ipN(i)} }},
	{name: ConsistentHashName, info: func(i int) *Info { return &Info{Key: "user-" + strconv.Itoa(i)} }},
}

// assign returns the target URL each of n keys maps to.
func assign(t *testing.T, f Factory, ts []*Target, n int, info func(int) *Info) []string {
	t.Helper()
	b := f(poolOf(ts), nil)
	out := make([]string, n)
	for i := range out {
		got, err := b.Pick(info(i))
		if err != nil {
			t.Fatalf("Pick() error = %v", err)
		}
		out[i] = got.URL
	}
	return out
}

func TestHashStable(t *testing.T) {
	t.Parallel()
	for _, hc := range hashCases {
		t.Run(hc.name, func(t *testing.T) {
			t.Parallel()
			f, _ := New(hc.name)
			ts := newTargets(t, 10)
			first := assign(t, f, ts, 2000, hc.info)
			again := assign(t, f, ts, 2000, hc.info)
			// Same targets in another order, new States: the mapping depends on URLs only.
			shuffled := newTargets(t, 10)
			slices.Reverse(shuffled)
			other := assign(t, f, shuffled, 2000, hc.info)
			for i := range first {
				if again[i] != first[i] || other[i] != first[i] {
					t.Fatalf("key %d: Pick() = %s, then %s, reordered %s; want the same", i, first[i], again[i], other[i])
				}
			}
		})
	}
}

// TestHashMovement: changing one of N targets moves about 1/N of 10k keys, and only
// keys of the changed target move.
func TestHashMovement(t *testing.T) {
	t.Parallel()
	const keys, n, tol = 10000, 10, 0.03
	for _, hc := range hashCases {
		t.Run(hc.name, func(t *testing.T) {
			t.Parallel()
			f, _ := New(hc.name)
			all := newTargets(t, n+1)
			base := assign(t, f, all[:n], keys, hc.info)
			// Share per target stays near 1/N (the spread of the ring's virtual nodes).
			per := map[string]int{}
			for _, u := range base {
				per[u]++
			}
			for _, tg := range all[:n] {
				if s := float64(per[tg.URL]) / keys; math.Abs(s-1.0/n) > 0.04 {
					t.Errorf("share of %s = %.3f, want %.3f ± 0.04", tg.URL, s, 1.0/n)
				}
			}

			removed := all[4].URL
			without := append(append([]*Target{}, all[:4]...), all[5:n]...)
			afterRemove := assign(t, f, without, keys, hc.info)
			moved := 0
			for i := range base {
				if afterRemove[i] != base[i] {
					moved++
					if base[i] != removed {
						t.Fatalf("key %d moved %s → %s though its target stayed", i, base[i], afterRemove[i])
					}
				}
			}
			if frac := float64(moved) / keys; frac > 1.0/n+tol {
				t.Errorf("removing 1 of %d moved %.3f of keys, want <= %.3f", n, frac, 1.0/n+tol)
			}

			afterAdd := assign(t, f, all, keys, hc.info)
			moved = 0
			for i := range base {
				if afterAdd[i] != base[i] {
					moved++
					if afterAdd[i] != all[n].URL {
						t.Fatalf("key %d moved %s → %s, want only moves to the new target", i, base[i], afterAdd[i])
					}
				}
			}
			if frac := float64(moved) / keys; frac > 1.0/(n+1)+tol || moved == 0 {
				t.Errorf("adding 1 to %d moved %.3f of keys, want (0, %.3f]", n, frac, 1.0/(n+1)+tol)
			}
		})
	}
}

// TestConsistentHashBoundedLoad places requests that never finish, most of them with one
// hot key; after every placement no target may hold more than ceil((1+ε)×total/N).
// Without the bound the hot key's target would hold ~90% of them.
func TestConsistentHashBoundedLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		epsilon float64
	}{
		{name: "default", epsilon: DefaultEpsilon},
		{name: "tight", epsilon: 0.05},
		{name: "loose", epsilon: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const n = 10
			ts := newTargets(t, n)
			b := NewConsistentHash(tc.epsilon)(poolOf(ts), nil)
			for i := 1; i <= 3000; i++ {
				key := "hot"
				if i%10 == 0 {
					key = "cold-" + strconv.Itoa(i)
				}
				got, err := b.Pick(&Info{Key: key})
				if err != nil {
					t.Fatalf("Pick() error = %v", err)
				}
				got.State.Begin()
				limit := int64(math.Ceil((1 + tc.epsilon) * float64(i) / n))
				for _, x := range ts {
					if x.State.InFlight() > limit {
						t.Fatalf("after %d placements %s holds %d, want <= %d", i, x.URL, x.State.InFlight(), limit)
					}
				}
			}
		})
	}
}

func TestConsistentHashAffinityUnderBound(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 5)
	b := ConsistentHash(poolOf(ts), nil)
	want := mustPick(t, b, &Info{Key: "session-9"})
	for i := 0; i < 100; i++ {
		if got := mustPick(t, b, &Info{Key: "session-9"}); got != want {
			t.Fatalf("Pick() = %s, want %s (nothing in flight, so no overflow)", got.URL, want.URL)
		}
	}
}

func TestIPHashFamilies(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 5)
	b := IPHash(poolOf(ts), nil)
	v4 := mustPick(t, b, &Info{ClientIP: ipN(77)})
	mapped := ipN(77).As16()
	v6form := mustPick(t, b, &Info{ClientIP: netipFrom16(mapped)})
	if v4 != v6form {
		t.Errorf("Pick(v4) = %s, Pick(v4-mapped v6) = %s, want the same", v4.URL, v6form.URL)
	}
}

func mustPick(t *testing.T, b Balancer, info *Info) *Target {
	t.Helper()
	got, err := b.Pick(info)
	if err != nil {
		t.Fatalf("Pick() error = %v", err)
	}
	return got
}
