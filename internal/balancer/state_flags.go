package balancer

import "time"

// CheckResult is the outcome of the latest active health check of a target, kept for
// the admin API.
type CheckResult struct {
	// At is when the check finished.
	At time.Time
	// Err is the failure, or "" when the check passed.
	Err string
}

// Healthy reports the active-health verdict (true until a check says otherwise).
// Only Set.SetHealthy changes it, so that every change republishes the pool.
func (s *State) Healthy() bool { return !s.down.Load() }

// Drained reports whether new traffic to the target is stopped by Set.Drain.
func (s *State) Drained() bool { return s.drained.Load() }

// EjectedUntil returns when the current passive-health ejection ends, or the zero time
// when the target is not ejected.
func (s *State) EjectedUntil() time.Time {
	n := s.ejectedUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Ejections returns how many times the target was ejected; outlier detection
// multiplies the base ejection time by it.
func (s *State) Ejections() int64 { return s.ejections.Load() }

// RecordCheck stores the outcome of an active health check for the admin API; it does
// not change the verdict (that is Set.SetHealthy's job, after thresholds). err nil
// means the check passed. Safe for concurrent use.
func (s *State) RecordCheck(at time.Time, err error) {
	r := &CheckResult{At: at}
	if err != nil {
		r.Err = err.Error()
	}
	s.lastCheck.Store(r)
}

// LastCheck returns the latest recorded check, or nil before the first one.
func (s *State) LastCheck() *CheckResult { return s.lastCheck.Load() }

// ejectedAt reports whether the target is ejected at now (unix nanos).
func (s *State) ejectedAt(now int64) bool {
	u := s.ejectedUntil.Load()
	return u != 0 && u > now
}
