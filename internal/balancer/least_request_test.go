package balancer

import "testing"

func TestLeastRequestAvoidsBusy(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 10)
	for i := 0; i < 100; i++ {
		ts[3].State.Begin()
	}
	b := LeastRequest(poolOf(ts), nil)
	got := shares(t, b, ts, 5000, func(int) *Info { return nil })
	// Two distinct choices: the busy target is always compared with an idle one and loses.
	if got[3] != 0 {
		t.Errorf("share of target with 100 in flight = %.3f, want 0", got[3])
	}
	for i, s := range got {
		if i != 3 && (s < 0.08 || s > 0.14) {
			t.Errorf("share of idle target %d = %.3f, want about 1/9", i, s)
		}
	}
}
