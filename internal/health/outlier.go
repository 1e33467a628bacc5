package health

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

// Defaults applied to zero fields of config.Outlier.
const (
	DefaultConsecutiveFailures = 5
	DefaultBaseEjection        = 30 * time.Second
	DefaultMaxEjection         = 5 * time.Minute
)

// Ejector takes a target out of rotation until a time; *balancer.Set implements it.
// Eject returns false when it refuses (too many targets ejected already).
type Ejector interface {
	Eject(t *balancer.Target, until time.Time) bool
}

// Outlier is passive health: it ejects targets that fail real traffic repeatedly.
// Observe is safe for concurrent use and lock-free after a target's first
// observation; a nil *Outlier ignores observations, so the proxy may call it
// unconditionally.
type Outlier struct {
	set       Ejector
	threshold int64
	base, max time.Duration
	now       func() time.Time
	// counts maps *balancer.Target to its *atomic.Int64 run of consecutive failures.
	// sync.Map suits the access pattern: keys are written once, then only read.
	counts sync.Map
}

// NewOutlier builds passive health for an upstream; nil cfg (no outlier: section)
// returns nil, whose Observe does nothing. Zero fields take the defaults above.
func NewOutlier(cfg *config.Outlier, set Ejector) *Outlier {
	if cfg == nil || set == nil {
		return nil
	}
	return &Outlier{
		set:       set,
		threshold: int64(orInt(cfg.ConsecutiveFailures, DefaultConsecutiveFailures)),
		base:      orDuration(cfg.BaseEjection.D(), DefaultBaseEjection),
		max:       orDuration(cfg.MaxEjection.D(), DefaultMaxEjection),
		now:       time.Now,
	}
}

// Observe records the outcome of one try to t: failed is true for a connect failure,
// a timeout or a 5xx answer. The consecutive_failures-th failure in a row ejects t
// for base_ejection × (its earlier ejections + 1), at most max_ejection; a success
// resets the run. When the Set refuses the ejection the run is kept, so the next
// failure asks again.
func (o *Outlier) Observe(t *balancer.Target, failed bool) {
	if o == nil || t == nil {
		return
	}
	c := o.counter(t)
	if !failed {
		if c.Load() != 0 { // read first: successes are common, writes bounce cache lines
			c.Store(0)
		}
		return
	}
	if c.Add(1) < o.threshold {
		return
	}
	d := o.max
	if n := t.State.Ejections() + 1; n <= int64(o.max/o.base) { // guards the product against overflow
		d = o.base * time.Duration(n)
	}
	if o.set.Eject(t, o.now().Add(d)) {
		c.Store(0)
	}
}

// counter returns t's failure counter, creating it on first use.
func (o *Outlier) counter(t *balancer.Target) *atomic.Int64 {
	if c, ok := o.counts.Load(t); ok {
		return c.(*atomic.Int64)
	}
	c, _ := o.counts.LoadOrStore(t, new(atomic.Int64))
	return c.(*atomic.Int64)
}
