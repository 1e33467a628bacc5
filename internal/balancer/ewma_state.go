package balancer

import (
	"math"
	"time"
)

// decay is the EWMA time constant (Finagle's default for peak EWMA is 10s).
const decay = 10 * time.Second

// observe folds one latency sample into the peak-EWMA: a sample above the average
// replaces it at once (peak), one below decays it exponentially with the time since
// the previous sample.
func (s *State) observe(rtt time.Duration) {
	now := time.Now().UnixNano()
	prevT := s.lastEnd.Swap(now)
	sample := float64(rtt)
	for {
		oldBits := s.ewmaBits.Load()
		old := math.Float64frombits(oldBits)
		var next float64
		switch {
		case old == 0 || sample > old:
			next = sample
		default:
			dt := float64(now - prevT)
			if dt < 0 {
				dt = 0
			}
			w := math.Exp(-dt / float64(decay))
			next = old*w + sample*(1-w)
		}
		if s.ewmaBits.CompareAndSwap(oldBits, math.Float64bits(next)) {
			return
		}
	}
}

// EWMA returns the current peak-EWMA latency (0 before the first sample).
func (s *State) EWMA() time.Duration {
	return time.Duration(math.Float64frombits(s.ewmaBits.Load()))
}
