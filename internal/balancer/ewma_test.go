package balancer

import (
	"testing"
	"time"
)

// TestEWMAAvoidsSlow simulates traffic with a window of outstanding requests: each pick
// starts a request, and once more than window are outstanding the oldest finishes with
// its target's synthetic latency. Round robin would give the slow target 1/N.
func TestEWMAAvoidsSlow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		targets int
		slow    int
		window  int
		maxSlow float64
	}{
		{name: "two targets", targets: 2, slow: 1, window: 8, maxSlow: 0.20},
		{name: "five targets", targets: 5, slow: 2, window: 16, maxSlow: 0.20 / 2.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTargets(t, tc.targets)
			rtt := func(x *Target) time.Duration {
				if x == ts[tc.slow] {
					return 100 * time.Millisecond
				}
				return 10 * time.Millisecond
			}
			b := EWMA(poolOf(ts), nil)
			var queue []*Target
			counts := make([]int, len(ts))
			const n = 5000
			for i := 0; i < n; i++ {
				got, err := b.Pick(nil)
				if err != nil {
					t.Fatalf("Pick() error = %v", err)
				}
				counts[indexOf(ts, got)]++
				got.State.Begin()
				queue = append(queue, got)
				if len(queue) > tc.window {
					done := queue[0]
					queue = queue[1:]
					done.State.End(rtt(done), false)
				}
			}
			if share := float64(counts[tc.slow]) / n; share >= tc.maxSlow {
				t.Errorf("share of 10x slower target = %.3f, want < %.3f", share, tc.maxSlow)
			}
		})
	}
}

func TestEWMAPrefersFasterWhenIdle(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 2)
	ts[0].State.Begin()
	ts[0].State.End(50*time.Millisecond, false)
	ts[1].State.Begin()
	ts[1].State.End(5*time.Millisecond, false)
	b := EWMA(poolOf(ts), nil)
	for i := 0; i < 100; i++ {
		if got, _ := b.Pick(nil); got != ts[1] {
			t.Fatalf("Pick() = %s, want the faster %s", got.URL, ts[1].URL)
		}
	}
}
