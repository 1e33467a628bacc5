package balancer

import (
	"strings"
	"testing"
)

// TestWeightedRoundRobinPeriod checks the NGINX sequence for 5,1,1 (ngx_http_upstream_round_robin.c's
// comment gives { a, a, b, a, c, a, a }).
func TestWeightedRoundRobinPeriod(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	b := WeightedRoundRobin(poolOf(ts, 5, 1, 1), nil)
	var sb strings.Builder
	for i := 0; i < 14; i++ {
		got, _ := b.Pick(nil)
		sb.WriteByte("abc"[indexOf(ts, got)])
	}
	if got, want := sb.String(), "aabacaaaabacaa"; got != want {
		t.Fatalf("sequence = %s, want %s", got, want)
	}
}

// TestWeightedRoundRobinSmooth bounds the longest run of one target. For 5,1,1 the period
// is a a b a c a a, so runs inside a period are at most 2, and the wrap joins the last
// two a with the next period's first two: the real bound is 4. For 1,1,1 it is 1 and for
// 2,1 (a b a) it is 2. A bursty schedule (a a a a a b c) would give 5 and fail.
func TestWeightedRoundRobinSmooth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		weights []int
		maxRun  int
	}{
		{name: "5,1,1", weights: []int{5, 1, 1}, maxRun: 4},
		{name: "1,1,1", weights: []int{1, 1, 1}, maxRun: 1},
		{name: "2,1", weights: []int{2, 1}, maxRun: 2},
		{name: "scaled 500,100,100", weights: []int{500, 100, 100}, maxRun: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTargets(t, len(tc.weights))
			b := WeightedRoundRobin(poolOf(ts, tc.weights...), nil)
			counts := make([]float64, len(ts))
			var last *Target
			run, longest := 0, 0
			const n = 10000
			for i := 0; i < n; i++ {
				got, _ := b.Pick(nil)
				counts[indexOf(ts, got)]++
				if got == last {
					run++
				} else {
					last, run = got, 1
				}
				longest = max(longest, run)
			}
			if longest != tc.maxRun {
				t.Errorf("longest run = %d, want %d", longest, tc.maxRun)
			}
			for i := range counts {
				counts[i] /= n
			}
			checkShares(t, counts, tc.weights, 0.01)
		})
	}
}

// TestWeightedRoundRobinLargeWeights: a period beyond maxSchedule is scaled down while
// keeping shares within 1%.
func TestWeightedRoundRobinLargeWeights(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 4)
	weights := []int{99991, 50021, 20011, 7}
	b := WeightedRoundRobin(poolOf(ts, weights...), nil).(*weightedRoundRobin)
	if len(b.schedule) > maxSchedule+len(ts) {
		t.Fatalf("schedule length = %d, want <= %d", len(b.schedule), maxSchedule+len(ts))
	}
	got := shares(t, b, ts, 50000, func(int) *Info { return nil })
	checkShares(t, got, weights, 0.01)
	if got[3] == 0 {
		t.Errorf("share of weight-7 target = 0, want > 0 (every target keeps a slot)")
	}
}
