package balancer

import "testing"

func TestRoundRobinSequence(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	b := RoundRobin(poolOf(ts), nil)
	for i := 0; i < 30; i++ {
		got, err := b.Pick(&Info{})
		if want := ts[i%3]; err != nil || got != want {
			t.Fatalf("pick %d: Pick() = %v, %v; want %s", i, got, err, want.URL)
		}
	}
}

func TestRoundRobinSkipsTried(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 4)
	b := RoundRobin(poolOf(ts), nil)
	info := &Info{Tried: []*Target{ts[1]}}
	// Turns 0,1,2,3,0,1…: the turn of ts[1] goes to the next untried target, ts[2].
	want := []int{0, 2, 2, 3, 0, 2, 2, 3}
	for i, w := range want {
		if got, _ := b.Pick(info); got != ts[w] {
			t.Fatalf("pick %d: Pick() = %s, want %s", i, got.URL, ts[w].URL)
		}
	}
}

func TestRoundRobinCarriesPosition(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	p := poolOf(ts)
	b := RoundRobin(p, nil)
	b.Pick(nil)
	b.Pick(nil) // next turn: ts[2]
	b2 := RoundRobin(p, b)
	if got, _ := b2.Pick(nil); got != ts[2] {
		t.Fatalf("after rebuild: Pick() = %s, want %s (rotation carried over)", got.URL, ts[2].URL)
	}
}

func TestRoundRobinUnequalWeightsIsSmooth(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	b := RoundRobin(poolOf(ts, 5, 1, 1), nil)
	if _, ok := b.(*weightedRoundRobin); !ok {
		t.Fatalf("RoundRobin with weights 5,1,1 built %T, want *weightedRoundRobin", b)
	}
}
