package balancer

// CONTRACT STUB — the balancer helper implements; signatures are what gateway, proxy,
// health and admin use.

import "time"

// SetOptions configures a Set.
type SetOptions struct {
	// Factory builds the balancer for each published pool.
	Factory Factory
	// HashKey is the consistent_hash key spec, copied into each Pool.
	HashKey string
	// SlowStart ramps a target that came back to health from ~0 to full weight over this window.
	SlowStart time.Duration
	// PanicThreshold in percent: when fewer targets are eligible, balance over all of them.
	PanicThreshold int
}

// Set is an upstream's live target set: it owns health/ejection/drain flags of its
// targets (stored in their State) and republishes Pool+Balancer on every change.
// All methods are safe for concurrent use; Pick is lock-free.
type Set struct {
	targets []*Target
	opts    SetOptions
}

// NewSet builds a Set over targets (whose States may come from a previous Set).
func NewSet(targets []*Target, opts SetOptions) *Set { return &Set{targets: targets, opts: opts} }

// Pick picks from the current pool.
func (s *Set) Pick(info *Info) (*Target, error) { return nil, ErrNoTarget }

// Targets returns all targets in config order (eligible or not).
func (s *Set) Targets() []*Target { return s.targets }

// SetHealthy records an active health-check verdict for t and republishes if it changed.
func (s *Set) SetHealthy(t *Target, healthy bool) {}

// Eject takes t out of rotation until the given time (passive health); false when the
// max-ejected share forbids it.
func (s *Set) Eject(t *Target, until time.Time) bool { return false }

// Drain stops (on=true) or resumes new traffic to the target with the given URL; in-flight
// work finishes. It reports whether the URL is a target of this set.
func (s *Set) Drain(url string, on bool) bool { return false }

// Close stops background work (slow-start and ejection timers).
func (s *Set) Close() {}
