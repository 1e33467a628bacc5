package balancer

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// poolURLs lists the URLs of the set's current pool.
func poolURLs(s *Set) []string {
	var out []string
	for _, t := range s.Pool().Targets {
		out = append(out, t.URL)
	}
	return out
}

func urls(ts ...*Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.URL)
	}
	return out
}

func TestSetPicksAndRepublishes(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	s := NewSet(ts, SetOptions{})
	defer s.Close()
	for i := 0; i < 6; i++ {
		if got := mustPick(t, s, nil); got != ts[i%3] {
			t.Fatalf("Pick() = %s, want %s (round robin by default)", got.URL, ts[i%3].URL)
		}
	}
	p := s.Pool()
	s.SetHealthy(ts[1], true) // no change: no republish
	if s.Pool() != p {
		t.Errorf("SetHealthy(healthy target, true) republished, want no change")
	}
	s.SetHealthy(ts[1], false)
	if s.Pool() == p {
		t.Fatalf("SetHealthy(false) did not republish")
	}
	if got, want := poolURLs(s), urls(ts[0], ts[2]); !slices.Equal(got, want) {
		t.Errorf("pool = %v, want %v", got, want)
	}
	for i := 0; i < 20; i++ {
		if got := mustPick(t, s, nil); got == ts[1] {
			t.Fatalf("Pick() = %s, an unhealthy target", got.URL)
		}
	}
	s.SetHealthy(ts[1], true)
	if got, want := poolURLs(s), urls(ts...); !slices.Equal(got, want) {
		t.Errorf("pool after recovery = %v, want %v", got, want)
	}
	other := newTargets(t, 1)[0]
	p = s.Pool()
	s.SetHealthy(other, false)
	if s.Pool() != p || !other.State.Healthy() {
		t.Errorf("SetHealthy(foreign target) changed something, want it ignored")
	}
}

func TestSetEject(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 4)
	s := NewSet(ts, SetOptions{MaxEjectedPercent: 50})
	defer s.Close()
	now := time.Now()
	if !s.Eject(ts[0], now.Add(80*time.Millisecond)) {
		t.Fatal("Eject(first) = false, want true")
	}
	if !s.Eject(ts[1], now.Add(time.Hour)) {
		t.Fatal("Eject(second of 4, max 50%) = false, want true")
	}
	if s.Eject(ts[2], now.Add(time.Hour)) {
		t.Fatal("Eject(third of 4, max 50%) = true, want false")
	}
	if s.Eject(ts[3], now.Add(-time.Second)) {
		t.Error("Eject(past time) = true, want false")
	}
	if s.Eject(newTargets(t, 1)[0], now.Add(time.Hour)) {
		t.Error("Eject(foreign target) = true, want false")
	}
	if got, want := poolURLs(s), urls(ts[2], ts[3]); !slices.Equal(got, want) {
		t.Fatalf("pool = %v, want %v", got, want)
	}
	if n := ts[0].State.Ejections(); n != 1 {
		t.Errorf("Ejections() = %d, want 1", n)
	}
	// Re-ejecting extends, without counting a new ejection or needing headroom.
	if !s.Eject(ts[1], now.Add(2*time.Hour)) || ts[1].State.Ejections() != 1 {
		t.Errorf("Eject(ejected) = false or counted again, want extension")
	}
	// The timer ends the first ejection and republishes.
	waitFor(t, "ejection of "+ts[0].URL+" to end", 5*time.Second, func() bool {
		return slices.Contains(poolURLs(s), ts[0].URL)
	})
	if !ts[0].State.EjectedUntil().IsZero() {
		t.Errorf("EjectedUntil() = %v after expiry, want zero", ts[0].State.EjectedUntil())
	}
	if !s.Eject(ts[2], now.Add(time.Hour)) {
		t.Error("Eject after an ejection ended = false, want true (headroom is back)")
	}
}

func TestSetEjectionCarriedOver(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 2)
	old := NewSet(ts, SetOptions{})
	old.Eject(ts[0], time.Now().Add(60*time.Millisecond))
	old.Close()
	s := NewSet(ts, SetOptions{}) // a reload: same States
	defer s.Close()
	if got, want := poolURLs(s), urls(ts[1]); !slices.Equal(got, want) {
		t.Fatalf("pool of new set = %v, want %v (ejection carried over)", got, want)
	}
	waitFor(t, "carried-over ejection to end", 5*time.Second, func() bool { return len(s.Pool().Targets) == 2 })
}

func TestSetDrain(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	s := NewSet(ts, SetOptions{})
	defer s.Close()
	if !s.Drain(ts[1].URL, true) {
		t.Fatal("Drain(member) = false, want true")
	}
	if got, want := poolURLs(s), urls(ts[0], ts[2]); !slices.Equal(got, want) {
		t.Errorf("pool = %v, want %v", got, want)
	}
	if s.Drain("http://nowhere:1", true) {
		t.Error("Drain(unknown URL) = true, want false")
	}
	s.Drain(ts[1].URL, false)
	if got, want := poolURLs(s), urls(ts...); !slices.Equal(got, want) {
		t.Errorf("pool after resume = %v, want %v", got, want)
	}
}

func TestSetPanicThreshold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		threshold int
		down      int // first targets marked unhealthy, of 4
		drained   bool
		wantPool  int
		wantPanic bool
	}{
		{name: "half healthy at 50%", threshold: 50, down: 2, wantPool: 2},
		{name: "quarter healthy at 50%", threshold: 50, down: 3, wantPool: 4, wantPanic: true},
		{name: "none healthy at 50%", threshold: 50, down: 4, wantPool: 4, wantPanic: true},
		{name: "none healthy, off", threshold: 0, down: 4, wantPool: 0},
		{name: "drained stay out in panic", threshold: 50, down: 3, drained: true, wantPool: 3, wantPanic: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTargets(t, 4)
			s := NewSet(ts, SetOptions{PanicThreshold: tc.threshold})
			defer s.Close()
			if tc.drained {
				s.Drain(ts[3].URL, true)
			}
			for _, x := range ts[:tc.down] {
				s.SetHealthy(x, false)
			}
			if got := len(s.Pool().Targets); got != tc.wantPool {
				t.Errorf("pool size = %d, want %d (pool %v)", got, tc.wantPool, poolURLs(s))
			}
			if got := s.Panicking(); got != tc.wantPanic {
				t.Errorf("Panicking() = %v, want %v", got, tc.wantPanic)
			}
			if tc.drained && slices.Contains(poolURLs(s), ts[3].URL) {
				t.Errorf("pool %v holds drained %s", poolURLs(s), ts[3].URL)
			}
			_, err := s.Pick(nil)
			if (tc.wantPool == 0) != errors.Is(err, ErrNoTarget) {
				t.Errorf("Pick() error = %v, want ErrNoTarget only for an empty pool", err)
			}
		})
	}
}

func TestSetSlowStart(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	ts := newTargets(t, 2)
	ts[1].Weight = 2
	s := NewSet(ts, SetOptions{SlowStart: 10 * time.Second, Now: clk.Now, Factory: WeightedRoundRobin})
	defer s.Close()
	if got := s.Pool().Weights; !slices.Equal(got, []int{100, 200}) {
		t.Fatalf("initial Weights = %v, want [100 200] (no ramp at start)", got)
	}
	s.SetHealthy(ts[1], false)
	s.SetHealthy(ts[1], true)
	steps := []struct {
		after time.Duration
		want  int
	}{
		{after: 0, want: 20},                  // 10% of 2×100
		{after: 5 * time.Second, want: 110},   // 10% + 90% × 0.5
		{after: 9 * time.Second, want: 182},   // 10% + 90% × 0.9
		{after: 10 * time.Second, want: 200},  // done
		{after: 100 * time.Second, want: 200}, // stays
	}
	start := clk.Now()
	for _, st := range steps {
		clk.ns.Store(start.Add(st.after).UnixNano())
		s.republish()
		if got := s.Pool().Weights[1]; got != st.want {
			t.Errorf("after %v: Weights[1] = %d, want %d", st.after, got, st.want)
		}
	}
	// Ramp over: the ticker goroutine notices and exits.
	waitFor(t, "ramp goroutine to stop", 5*time.Second, func() bool { return !s.isTicking() })
	if st := s.Status()[1]; st.EffectiveWeight != 2 {
		t.Errorf("Status().EffectiveWeight = %v, want 2", st.EffectiveWeight)
	}
}

func TestSetSlowStartAfterEjection(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 2)
	s := NewSet(ts, SetOptions{SlowStart: time.Hour})
	defer s.Close()
	s.Eject(ts[0], time.Now().Add(20*time.Millisecond))
	waitFor(t, "ejection to end", 5*time.Second, func() bool { return len(s.Pool().Targets) == 2 })
	if w := s.Pool().Weights[0]; w >= WeightScale/2 {
		t.Errorf("Weights[0] right after ejection = %d, want about %d (slow start)", w, WeightScale/10)
	}
}

// TestSetRampTickerRepublishes: with real time, the ticker alone raises the weight.
func TestSetRampTickerRepublishes(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 2)
	s := NewSet(ts, SetOptions{SlowStart: 300 * time.Millisecond})
	s.SetHealthy(ts[0], false)
	s.SetHealthy(ts[0], true)
	waitFor(t, "slow start to reach full weight", 5*time.Second, func() bool {
		return s.Pool().Weights[0] == WeightScale
	})
	waitFor(t, "ramp goroutine to stop", 5*time.Second, func() bool { return !s.isTicking() })
	s.Close()
}

// TestSetCloseStopsGoroutines is not parallel, so that the goroutine scan sees only
// this test's Set (parallel tests are paused while sequential ones run).
func TestSetCloseStopsGoroutines(t *testing.T) {
	ts := newTargets(t, 3)
	s := NewSet(ts, SetOptions{SlowStart: time.Hour})
	s.SetHealthy(ts[0], false)
	s.SetHealthy(ts[0], true) // starts the ramp goroutine for an hour
	s.Eject(ts[1], time.Now().Add(time.Hour))
	if !s.isTicking() {
		t.Fatal("ramp goroutine not running during slow start")
	}
	s.Close()
	s.Close() // idempotent
	noGoroutine(t, "balancer.(*Set).ramp", 5*time.Second)
	noGoroutine(t, "balancer.(*Set).expire", 5*time.Second)
	// After Close, mutations are ignored; Pick still works on the last pool.
	if s.Eject(ts[2], time.Now().Add(time.Hour)) {
		t.Error("Eject after Close = true, want false")
	}
	if _, err := s.Pick(nil); err != nil {
		t.Errorf("Pick() after Close error = %v, want nil", err)
	}
}

func TestSetStatusJSON(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 2)
	s := NewSet(ts, SetOptions{})
	defer s.Close()
	ts[0].State.Begin()
	ts[0].State.End(20*time.Millisecond, true)
	ts[0].State.RecordCheck(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), errors.New("status 500"))
	until := time.Now().Add(time.Hour)
	s.Eject(ts[0], until)
	st := s.Status()
	if len(st) != 2 {
		t.Fatalf("len(Status()) = %d, want 2", len(st))
	}
	got := st[0]
	if got.URL != ts[0].URL || got.InPool || got.Ejections != 1 || !got.EjectedUntil.Equal(until) ||
		got.Requests != 1 || got.Failures != 1 || got.EWMAMillis != 20 || got.LastCheckError != "status 500" {
		t.Errorf("Status()[0] = %+v, want ejected target with 1 failed request and a failed check", got)
	}
	if !st[1].InPool || st[1].EffectiveWeight != 1 || !st[1].Healthy {
		t.Errorf("Status()[1] = %+v, want healthy, in pool, effective weight 1", st[1])
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"url"`, `"effective_weight"`, `"in_pool"`, `"healthy"`, `"ejected_until"`, `"ejections"`,
		`"drained"`, `"in_flight"`, `"ewma_ms"`, `"requests"`, `"failures"`, `"last_check"`, `"last_check_error"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("Status JSON lacks %s: %s", key, b)
		}
	}
	if strings.Count(string(b), `"ejected_until"`) != 1 {
		t.Errorf("Status JSON = %s, want ejected_until only on the ejected target", b)
	}
}

// TestSetConcurrent exercises Pick against concurrent mutations under -race.
func TestSetConcurrent(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 5)
	s := NewSet(ts, SetOptions{Factory: LeastRequest, PanicThreshold: 20, SlowStart: 50 * time.Millisecond})
	defer s.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tg, err := s.Pick(&Info{})
				if err != nil {
					continue // every target may be drained for a moment
				}
				tg.State.Begin()
				tg.State.End(time.Millisecond, false)
			}
		}()
	}
	for i := 0; i < 300; i++ {
		x := ts[i%len(ts)]
		s.SetHealthy(x, i%2 == 0)
		s.Drain(x.URL, i%3 == 0)
		s.Eject(x, time.Now().Add(time.Millisecond))
		_ = s.Status()
	}
	close(stop)
	wg.Wait()
}

func BenchmarkSetPick(b *testing.B) {
	ts := newTargets(b, 10)
	s := NewSet(ts, SetOptions{Factory: LeastRequest})
	defer s.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var info Info
		for pb.Next() {
			if _, err := s.Pick(&info); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func (s *Set) isTicking() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ticking
}
