package balancer

import "testing"

func TestLeastConnectionsAvoidsBusy(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	for i := 0; i < 50; i++ {
		ts[0].State.Begin()
	}
	b := LeastConnections(poolOf(ts), nil)
	got := shares(t, b, ts, 2000, func(int) *Info { return nil })
	if got[0] != 0 {
		t.Errorf("share of target with 50 in flight = %.3f, want 0", got[0])
	}
	// The two idle targets tie on every pick; random tie-breaking shares them.
	for i := 1; i < 3; i++ {
		if got[i] < 0.4 {
			t.Errorf("share of idle target %d = %.3f, want about 0.5 (ties broken at random)", i, got[i])
		}
	}
}

func TestLeastConnectionsFillsToBalance(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	for i := 0; i < 10; i++ {
		ts[0].State.Begin()
	}
	b := LeastConnections(poolOf(ts), nil)
	// 20 new requests, none finishing: the idle ones fill up to 10 first, then all
	// take turns, so the counts end 10, 10, 10.
	for i := 0; i < 20; i++ {
		got, _ := b.Pick(nil)
		got.State.Begin()
	}
	for i, x := range ts {
		if n := x.State.InFlight(); n != 10 {
			t.Errorf("InFlight(target %d) = %d, want 10", i, n)
		}
	}
}
