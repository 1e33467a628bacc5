package health

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

// clock is a settable clock shared by a Set and an Outlier.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// outlierOn builds a real Set over n targets and an Outlier ejecting through it, both
// on one fake clock (ejection timers are hours long, so only the clock ends them).
func outlierOn(t *testing.T, n int, cfg *config.Outlier, maxPct int) (*Outlier, *balancer.Set, []*balancer.Target, *clock) {
	t.Helper()
	clk := newClock()
	ts := make([]*balancer.Target, n)
	for i := range ts {
		ts[i] = mustTarget(t, "http://127.0.0.1:"+string(rune('1'+i))+"000")
	}
	set := balancer.NewSet(ts, balancer.SetOptions{Now: clk.Now, MaxEjectedPercent: maxPct})
	t.Cleanup(set.Close)
	o := NewOutlier(cfg, set)
	o.now = clk.Now
	return o, set, ts, clk
}

func TestOutlierEjectsAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()
	cfg := &config.Outlier{ConsecutiveFailures: 3, BaseEjection: config.Duration(time.Hour), MaxEjection: config.Duration(10 * time.Hour)}
	o, set, ts, clk := outlierOn(t, 4, cfg, 50)
	tg := ts[0]
	o.Observe(tg, true)
	o.Observe(tg, true)
	o.Observe(tg, false) // success resets the run
	o.Observe(tg, true)
	o.Observe(tg, true)
	if !tg.State.EjectedUntil().IsZero() || !inPool(set, tg) {
		t.Fatalf("ejected after 2 consecutive failures, want threshold 3")
	}
	o.Observe(tg, true)
	if got, want := tg.State.EjectedUntil(), clk.Now().Add(time.Hour); !got.Equal(want) {
		t.Fatalf("EjectedUntil() = %v, want %v (base × 1)", got, want)
	}
	if inPool(set, tg) {
		t.Fatalf("pool still holds the ejected target")
	}
}

// TestOutlierBackoff: each ejection lasts base × (earlier ejections + 1), capped.
func TestOutlierBackoff(t *testing.T) {
	t.Parallel()
	cfg := &config.Outlier{ConsecutiveFailures: 2, BaseEjection: config.Duration(time.Hour), MaxEjection: config.Duration(150 * time.Minute)}
	o, _, ts, clk := outlierOn(t, 2, cfg, 50)
	tg := ts[0]
	want := []time.Duration{time.Hour, 2 * time.Hour, 150 * time.Minute, 150 * time.Minute}
	for i, w := range want {
		o.Observe(tg, true)
		o.Observe(tg, true)
		if got := tg.State.EjectedUntil().Sub(clk.Now()); got != w {
			t.Fatalf("ejection %d lasts %v, want %v", i+1, got, w)
		}
		clk.Advance(w) // the ejection is over for the Set's clock
	}
	if n := tg.State.Ejections(); n != int64(len(want)) {
		t.Errorf("Ejections() = %d, want %d", n, len(want))
	}
}

func TestOutlierRespectsMaxEjected(t *testing.T) {
	t.Parallel()
	cfg := &config.Outlier{ConsecutiveFailures: 1, BaseEjection: config.Duration(time.Hour)}
	o, set, ts, _ := outlierOn(t, 2, cfg, 50)
	o.Observe(ts[0], true)
	o.Observe(ts[1], true)
	o.Observe(ts[1], true)
	if ts[0].State.Ejections() != 1 || ts[1].State.Ejections() != 0 {
		t.Fatalf("Ejections() = %d, %d; want 1, 0 (max 50%% of 2 targets)", ts[0].State.Ejections(), ts[1].State.Ejections())
	}
	if !inPool(set, ts[1]) {
		t.Errorf("refused target left the pool")
	}
}

func TestOutlierNil(t *testing.T) {
	t.Parallel()
	o := NewOutlier(nil, nil)
	if o != nil {
		t.Fatalf("NewOutlier(nil) = %v, want nil", o)
	}
	o.Observe(mustTarget(t, "http://127.0.0.1:1"), true) // must not panic
}

func TestOutlierDefaults(t *testing.T) {
	t.Parallel()
	o, _, ts, clk := outlierOn(t, 2, &config.Outlier{}, 50)
	for i := 0; i < DefaultConsecutiveFailures-1; i++ {
		o.Observe(ts[0], true)
	}
	if !ts[0].State.EjectedUntil().IsZero() {
		t.Fatalf("ejected after %d failures, want default %d", DefaultConsecutiveFailures-1, DefaultConsecutiveFailures)
	}
	o.Observe(ts[0], true)
	if got := ts[0].State.EjectedUntil().Sub(clk.Now()); got != DefaultBaseEjection {
		t.Fatalf("ejection lasts %v, want %v", got, DefaultBaseEjection)
	}
}

// TestOutlierConcurrent: many goroutines report failures; exactly one ejection results.
func TestOutlierConcurrent(t *testing.T) {
	t.Parallel()
	cfg := &config.Outlier{ConsecutiveFailures: 5, BaseEjection: config.Duration(time.Hour)}
	o, _, ts, _ := outlierOn(t, 4, cfg, 50)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				o.Observe(ts[0], true)
				o.Observe(ts[1], false)
			}
		}()
	}
	wg.Wait()
	if n := ts[0].State.Ejections(); n != 1 {
		t.Errorf("Ejections() = %d, want 1 (later failures extend, not re-eject)", n)
	}
	if n := ts[1].State.Ejections(); n != 0 {
		t.Errorf("Ejections() of a succeeding target = %d, want 0", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	tg := mustTarget(b, "http://127.0.0.1:1")
	set := balancer.NewSet([]*balancer.Target{tg}, balancer.SetOptions{})
	defer set.Close()
	o := NewOutlier(&config.Outlier{}, set)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Observe(tg, false)
		}
	})
}
