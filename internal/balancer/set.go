package balancer

import (
	"sync"
	"sync/atomic"
	"time"
)

// WeightScale is the factor between a configured weight and the effective weight a Set
// publishes in Pool.Weights, so that slow start can ramp a weight-1 target in small
// steps (from 10% of WeightScale) without fractions.
const WeightScale = 100

// slowStartFloor is the share of its weight a target gets when its slow start begins
// (Envoy's min_weight_percent default is also 10%).
const slowStartFloor = 0.1

// defaultMaxEjectedPercent applies when SetOptions.MaxEjectedPercent is 0.
const defaultMaxEjectedPercent = 50

// SetOptions configures a Set.
type SetOptions struct {
	// Factory builds the balancer for each published pool; nil means RoundRobin.
	Factory Factory
	// HashKey is the consistent_hash key spec, copied into each Pool.
	HashKey string
	// SlowStart ramps a target that came back to health from ~0 to full weight over this window.
	// Precisely: from 10% to 100% of its weight, linearly; 0 turns it off.
	SlowStart time.Duration
	// PanicThreshold in percent: when fewer targets are eligible, balance over all of them.
	// Precisely: when fewer than PanicThreshold% of the non-drained targets are healthy and
	// not ejected, the pool holds every non-drained target; 0 turns it off.
	PanicThreshold int
	// MaxEjectedPercent caps the share of targets Eject may have out at once (Eject then
	// returns false); 0 means 50, 100 allows ejecting every target.
	MaxEjectedPercent int
	// Now is the clock, for tests; nil means time.Now. Timers still run on real time.
	Now func() time.Time
}

// Set is an upstream's live target set: it owns health/ejection/drain flags of its
// targets (stored in their State) and republishes Pool+Balancer on every change.
// All methods are safe for concurrent use; Pick is lock-free.
//
// Mutations (SetHealthy, Eject, Drain, ejection expiry, slow-start steps) serialise on a
// mutex, rebuild the Pool and its Balancer, and publish both with one atomic pointer
// store; Pick only loads that pointer. Background work is one timer per ejected target
// and, only while some target is in slow start, one goroutine that republishes on a
// ticker; Close stops both. After Close, mutations are ignored (a stale health checker
// must not steer a Set that a reload replaced) and Pick keeps using the last pool.
type Set struct {
	targets []*Target
	member  map[*Target]bool
	opts    SetOptions
	now     func() time.Time
	cur     atomic.Pointer[published]

	mu      sync.Mutex
	timers  map[*Target]*time.Timer
	ramping bool // some target is in slow start (as of the last publish)
	ticking bool // the ramp goroutine runs
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// published is what one atomic store makes visible to Pick.
type published struct {
	pool  *Pool
	bal   Balancer
	panic bool
}

// NewSet builds a Set over targets (whose States may come from a previous Set) and
// publishes the first pool. Flags already in the States are honoured: a target ejected
// by the previous Set stays out until its ejection ends, one in slow start keeps ramping.
func NewSet(targets []*Target, opts SetOptions) *Set {
	if opts.Factory == nil {
		opts.Factory = RoundRobin
	}
	if opts.MaxEjectedPercent <= 0 {
		opts.MaxEjectedPercent = defaultMaxEjectedPercent
	}
	s := &Set{
		targets: targets,
		member:  make(map[*Target]bool, len(targets)),
		opts:    opts,
		now:     opts.Now,
		timers:  make(map[*Target]*time.Timer),
		stop:    make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, t := range targets {
		s.member[t] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, t := range targets {
		if u := t.State.EjectedUntil(); !u.IsZero() && u.After(now) {
			s.armLocked(t, u.Sub(now))
		}
	}
	s.publishLocked()
	return s
}

// Pick picks from the current pool; it wraps nothing and returns ErrNoTarget when the
// pool is empty or every target in it was tried.
func (s *Set) Pick(info *Info) (*Target, error) { return s.cur.Load().bal.Pick(info) }

// Pool returns the currently published pool (do not modify it).
func (s *Set) Pool() *Pool { return s.cur.Load().pool }

// Panicking reports whether the current pool was built in panic mode (too few eligible
// targets, so all non-drained ones take traffic).
func (s *Set) Panicking() bool { return s.cur.Load().panic }

// Targets returns all targets in config order (eligible or not).
func (s *Set) Targets() []*Target { return s.targets }

// SetHealthy records an active health-check verdict for t and republishes if it changed.
// A target coming back starts its slow start. Targets of other sets are ignored.
func (s *Set) SetHealthy(t *Target, healthy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.member[t] {
		return
	}
	if wasDown := t.State.down.Swap(!healthy); wasDown == !healthy {
		return
	}
	if healthy {
		s.startRampLocked(t)
	}
	s.publishLocked()
}

// Eject takes t out of rotation until the given time (passive health); false when the
// max-ejected share forbids it.
// It also returns false for a time not in the future, a target of another set or a
// closed Set. Ejecting an ejected target extends its ejection to the later time
// without counting a new ejection. Each ejection increments State.Ejections.
func (s *Set) Eject(t *Target, until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.closed || !s.member[t] || !until.After(now) {
		return false
	}
	nowN := now.UnixNano()
	if t.State.ejectedAt(nowN) {
		if until.UnixNano() > t.State.ejectedUntil.Load() {
			t.State.ejectedUntil.Store(until.UnixNano())
			s.armLocked(t, until.Sub(now))
		}
		return true
	}
	ejected := 0
	for _, x := range s.targets {
		if x.State.ejectedAt(nowN) {
			ejected++
		}
	}
	if (ejected+1)*100 > s.opts.MaxEjectedPercent*len(s.targets) {
		return false
	}
	t.State.ejectedUntil.Store(until.UnixNano())
	t.State.ejections.Add(1)
	s.armLocked(t, until.Sub(now))
	s.publishLocked()
	return true
}

// Drain stops (on=true) or resumes new traffic to the target with the given URL; in-flight
// work finishes. It reports whether the URL is a target of this set.
func (s *Set) Drain(url string, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		if t.URL != url {
			continue
		}
		if !s.closed && t.State.drained.Swap(on) != on {
			s.publishLocked()
		}
		return true
	}
	return false
}

// Close stops background work (slow-start and ejection timers).
// It waits for the slow-start goroutine to exit and is idempotent.
func (s *Set) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for t, tm := range s.timers {
			tm.Stop()
			delete(s.timers, t)
		}
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// armLocked (re)starts t's ejection timer.
func (s *Set) armLocked(t *Target, d time.Duration) {
	if old := s.timers[t]; old != nil {
		old.Stop()
	}
	s.timers[t] = time.AfterFunc(d, func() { s.expire(t) })
}

// expire ends t's ejection when its time has come (the timer may be stale after an
// extension, or early against an injected clock, in which case it is re-armed).
func (s *Set) expire(t *Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := s.now()
	u := t.State.ejectedUntil.Load()
	if u == 0 {
		delete(s.timers, t)
		return
	}
	if rest := time.Duration(u - now.UnixNano()); rest > 0 {
		s.armLocked(t, rest)
		return
	}
	delete(s.timers, t)
	t.State.ejectedUntil.Store(0)
	s.startRampLocked(t)
	s.publishLocked()
}

// startRampLocked starts t's slow start, when configured.
func (s *Set) startRampLocked(t *Target) {
	if s.opts.SlowStart > 0 {
		t.State.recoveredAt.Store(s.now().UnixNano())
	}
}

// republish rebuilds and publishes the pool now (tests with an injected clock use it).
func (s *Set) republish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishLocked()
}

// publishLocked builds the pool from the targets' flags, builds its balancer from the
// previous one, stores both, and starts the slow-start ticker if something ramps.
func (s *Set) publishLocked() {
	now := s.now().UnixNano()
	eligible := make([]*Target, 0, len(s.targets))
	live := 0 // not drained
	for _, t := range s.targets {
		st := t.State
		if st.drained.Load() {
			continue
		}
		live++
		if !st.down.Load() && !st.ejectedAt(now) {
			eligible = append(eligible, t)
		}
	}
	panicking := false
	if live > 0 && len(eligible)*100 < s.opts.PanicThreshold*live {
		// Too few left to carry the load: Envoy's panic mode. Sending to possibly-bad
		// targets beats concentrating everything on the few good ones (or on none).
		panicking = true
		eligible = eligible[:0]
		for _, t := range s.targets {
			if !t.State.drained.Load() {
				eligible = append(eligible, t)
			}
		}
	}
	p := &Pool{Targets: eligible, Weights: make([]int, len(eligible)), HashKey: s.opts.HashKey}
	ramping := false
	for i, t := range eligible {
		w := float64(t.Weight * WeightScale)
		if f, ok := s.rampFactor(t, now); ok {
			w *= f
			ramping = true
		}
		p.Weights[i] = max(1, int(w))
		p.TotalWeight += p.Weights[i]
	}
	var prev Balancer
	if old := s.cur.Load(); old != nil {
		prev = old.bal
	}
	s.cur.Store(&published{pool: p, bal: s.opts.Factory(p, prev), panic: panicking})
	s.ramping = ramping
	if ramping && !s.ticking && !s.closed {
		s.ticking = true
		s.wg.Add(1)
		go s.ramp()
	}
}

// rampFactor returns t's slow-start weight factor at now, and false when it is not
// ramping (clearing a finished ramp).
func (s *Set) rampFactor(t *Target, now int64) (float64, bool) {
	rec := t.State.recoveredAt.Load()
	if rec == 0 {
		return 1, false
	}
	elapsed := now - rec
	if s.opts.SlowStart <= 0 || elapsed >= int64(s.opts.SlowStart) {
		t.State.recoveredAt.CompareAndSwap(rec, 0)
		return 1, false
	}
	frac := float64(max(elapsed, 0)) / float64(s.opts.SlowStart)
	return slowStartFloor + (1-slowStartFloor)*frac, true
}

// rampStep is how often the pool is rebuilt during slow start: 20 steps per window,
// within [10ms, 1s].
func (s *Set) rampStep() time.Duration {
	return min(max(s.opts.SlowStart/20, 10*time.Millisecond), time.Second)
}

// ramp republishes on a ticker while some target is in slow start, then exits; it is
// restarted by the next publish that finds a ramping target.
func (s *Set) ramp() {
	defer s.wg.Done()
	tk := time.NewTicker(s.rampStep())
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
		}
		s.mu.Lock()
		if s.closed {
			s.ticking = false
			s.mu.Unlock()
			return
		}
		s.publishLocked()
		if !s.ramping {
			s.ticking = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}
