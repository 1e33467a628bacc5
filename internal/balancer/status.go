package balancer

import "time"

// TargetStatus is one target's live state as the admin API shows it.
type TargetStatus struct {
	URL string `json:"url"`
	// Weight is the configured weight.
	Weight int `json:"weight"`
	// EffectiveWeight is the weight in the current pool in configured units (lower during
	// slow start); 0 when the target is not in the pool.
	EffectiveWeight float64 `json:"effective_weight"`
	// InPool reports whether the target is in the current pool.
	InPool bool `json:"in_pool"`
	// Healthy is the active-health verdict.
	Healthy bool `json:"healthy"`
	// EjectedUntil is when the current ejection ends (absent when not ejected).
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// Ejections counts ejections since the State was created.
	Ejections int64 `json:"ejections"`
	Drained   bool  `json:"drained"`
	InFlight  int64 `json:"in_flight"`
	// EWMAMillis is the peak-EWMA latency in milliseconds.
	EWMAMillis float64 `json:"ewma_ms"`
	Requests   uint64  `json:"requests"`
	Failures   uint64  `json:"failures"`
	// LastCheck is when the last active check finished (absent before the first).
	LastCheck time.Time `json:"last_check,omitzero"`
	// LastCheckError is the last check's failure, "" when it passed.
	LastCheckError string `json:"last_check_error,omitempty"`
}

// Status returns every target's state in config order, for the admin API. It reads
// atomics and the current pool without locking; the fields are each current but not
// one consistent snapshot.
func (s *Set) Status() []TargetStatus {
	p := s.Pool()
	now := s.now().UnixNano()
	out := make([]TargetStatus, len(s.targets))
	for i, t := range s.targets {
		st := t.State
		total, failed := st.Requests()
		ts := TargetStatus{
			URL:        t.URL,
			Weight:     t.Weight,
			Healthy:    st.Healthy(),
			Ejections:  st.Ejections(),
			Drained:    st.Drained(),
			InFlight:   st.InFlight(),
			EWMAMillis: float64(st.EWMA()) / float64(time.Millisecond),
			Requests:   total,
			Failures:   failed,
		}
		if st.ejectedAt(now) {
			ts.EjectedUntil = st.EjectedUntil()
		}
		for j, pt := range p.Targets {
			if pt == t {
				ts.InPool = true
				ts.EffectiveWeight = float64(p.Weights[j]) / WeightScale
			}
		}
		if c := st.LastCheck(); c != nil {
			ts.LastCheck, ts.LastCheckError = c.At, c.Err
		}
		out[i] = ts
	}
	return out
}
