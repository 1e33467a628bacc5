package balancer

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{name: "empty is round robin", in: ""},
		{name: "round_robin", in: RoundRobinName},
		{name: "weighted_round_robin", in: WeightedRoundRobinName},
		{name: "least_connections", in: LeastConnectionsName},
		{name: "least_request", in: LeastRequestName},
		{name: "ewma", in: EWMAName},
		{name: "ip_hash", in: IPHashName},
		{name: "consistent_hash", in: ConsistentHashName},
		{name: "random", in: RandomName},
		{name: "sticky", in: StickyName},
		{name: "unknown", in: "fastest", wantErr: ErrUnknown},
		{name: "wrong case", in: "Round_Robin", wantErr: ErrUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := New(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr == nil && f == nil {
				t.Fatalf("New(%q) = nil factory, want one", tc.in)
			}
			if tc.wantErr != nil && f != nil {
				t.Fatalf("New(%q) = factory, want nil", tc.in)
			}
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	want := []string{"consistent_hash", "ewma", "ip_hash", "least_connections", "least_request",
		"random", "round_robin", "sticky", "weighted_round_robin"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
}

// infoVariants are request facts each balancer reacts to differently; every property
// below must hold for all of them.
func infoVariants(ts []*Target) []Info {
	return []Info{
		{},
		{ClientIP: netip.MustParseAddr("192.0.2.7")},
		{Key: "user-42"},
		{Sticky: StickyID(ts[0])},
		{ClientIP: netip.MustParseAddr("2001:db8::1"), Key: "k", Sticky: "nonsense"},
	}
}

func TestTriedExclusion(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, _ := New(name)
			ts := newTargets(t, 3)
			b := f(poolOf(ts, 3, 2, 1), nil)
			for vi, info := range infoVariants(ts) {
				for i := 0; i < 200; i++ {
					in := info
					in.Tried = []*Target{ts[0], ts[1]}
					got, err := b.Pick(&in)
					if err != nil || got != ts[2] {
						t.Fatalf("variant %d: Pick() = %v, %v; want %s, nil", vi, got, err, ts[2].URL)
					}
					in.Tried = []*Target{ts[2], ts[0]}
					if got, _ := b.Pick(&in); got != ts[1] {
						t.Fatalf("variant %d: Pick() = %v, want %s", vi, got, ts[1].URL)
					}
				}
			}
		})
	}
}

func TestNoTarget(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, _ := New(name)
			ts := newTargets(t, 3)
			b := f(poolOf(ts, 1, 2, 3), nil)
			for vi, info := range infoVariants(ts) {
				info.Tried = []*Target{ts[2], ts[1], ts[0]}
				if got, err := b.Pick(&info); !errors.Is(err, ErrNoTarget) {
					t.Errorf("variant %d all tried: Pick() = %v, %v; want ErrNoTarget", vi, got, err)
				}
			}
			empty := f(&Pool{}, nil)
			if got, err := empty.Pick(&Info{Key: "x", ClientIP: netip.MustParseAddr("192.0.2.1")}); !errors.Is(err, ErrNoTarget) {
				t.Errorf("empty pool: Pick() = %v, %v; want ErrNoTarget", got, err)
			}
			if got, err := empty.Pick(nil); !errors.Is(err, ErrNoTarget) {
				t.Errorf("empty pool, nil info: Pick() = %v, %v; want ErrNoTarget", got, err)
			}
			one := f(poolOf(ts[:1]), nil)
			if got, err := one.Pick(nil); err != nil || got != ts[0] {
				t.Errorf("one target, nil info: Pick() = %v, %v; want %s", got, err, ts[0].URL)
			}
		})
	}
}

// TestWeightsHonoured: every balancer, fed what it keys on, spreads picks in proportion
// to Pool.Weights. Load-aware ones are checked with requests left in flight (Begin
// without End), where their steady state is proportional to weight.
func TestWeightsHonoured(t *testing.T) {
	t.Parallel()
	weights := []int{6, 3, 1}
	tests := []struct {
		name   string
		n      int
		tol    float64
		inflow bool // call Begin on each pick and never End
		info   func(i int) *Info
	}{
		{name: RoundRobinName, n: 10000, tol: 0.01, info: func(int) *Info { return &Info{} }},
		{name: WeightedRoundRobinName, n: 10000, tol: 0.01, info: func(int) *Info { return &Info{} }},
		{name: RandomName, n: 100000, tol: 0.01, info: func(int) *Info { return &Info{} }},
		{name: StickyName, n: 10000, tol: 0.01, info: func(int) *Info { return &Info{Sticky: "unknown"} }},
		{name: IPHashName, n: 20000, tol: 0.02, info: func(i int) *Info { return &Info{ClientIP: ipN(i)} }},
		{name: ConsistentHashName, n: 20000, tol: 0.05, info: func(i int) *Info { return &Info{Key: "k" + strconv.Itoa(i)} }},
		{name: LeastConnectionsName, n: 1000, tol: 0.01, inflow: true, info: func(int) *Info { return &Info{} }},
		{name: LeastRequestName, n: 1000, tol: 0.03, inflow: true, info: func(int) *Info { return &Info{} }},
		{name: EWMAName, n: 1000, tol: 0.03, inflow: true, info: func(int) *Info { return &Info{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, _ := New(tc.name)
			ts := newTargets(t, 3)
			b := f(poolOf(ts, weights...), nil)
			counts := make([]float64, len(ts))
			for i := 0; i < tc.n; i++ {
				got, err := b.Pick(tc.info(i))
				if err != nil {
					t.Fatalf("Pick() error = %v", err)
				}
				if tc.inflow {
					got.State.Begin()
				}
				counts[indexOf(ts, got)]++
			}
			for i := range counts {
				counts[i] /= float64(tc.n)
			}
			checkShares(t, counts, weights, tc.tol)
		})
	}
}

// TestPickAllocs proves 0 allocs per Pick in steady state for every balancer.
func TestPickAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			f, _ := New(name)
			ts := newTargets(t, 10)
			b := f(poolOf(ts, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5), nil)
			info := &Info{ClientIP: netip.MustParseAddr("192.0.2.9"), Key: "user-1", Sticky: StickyID(ts[4]), Tried: []*Target{ts[4]}}
			if n := testing.AllocsPerRun(1000, func() {
				if _, err := b.Pick(info); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Fatalf("Pick() allocs = %v, want 0", n)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			f, _ := New(name)
			ts := newTargets(b, 10)
			bal := f(poolOf(ts, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5), nil)
			ips := make([]netip.Addr, 256)
			keys := make([]string, 256)
			for i := range ips {
				ips[i] = ipN(i)
				keys[i] = fmt.Sprintf("user-%d", i)
			}
			sticky := StickyID(ts[3])
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var info Info
				i := 0
				for pb.Next() {
					info.ClientIP, info.Key, info.Sticky = ips[i&255], keys[i&255], sticky
					i++
					t, err := bal.Pick(&info)
					if err != nil {
						b.Fatal(err)
					}
					_ = t
				}
			})
		})
	}
}
