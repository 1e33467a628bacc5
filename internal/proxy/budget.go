package proxy

import (
	"sync/atomic"
	"time"
)

// DefaultMinRetriesPerSecond is the retry allowance a Budget grants regardless of
// traffic, so a quiet upstream can still retry (Finagle's RetryBudget uses the same idea).
const DefaultMinRetriesPerSecond = 3

// budgetBuckets splits the window; 10 buckets of 1s for the default 10s window.
const budgetBuckets = 10

// BudgetOptions configure a Budget.
type BudgetOptions struct {
	// Percent of requests that may be retries over the window (config budget_percent).
	Percent int
	// MinPerSecond retries are always allowed on top of Percent (per second of window);
	// the gateway passes DefaultMinRetriesPerSecond.
	MinPerSecond int
	// Window is the sliding window; default 10s.
	Window time.Duration
}

// Budget caps retries of one upstream to Percent of its requests plus MinPerSecond over
// a sliding window, so retries cannot multiply load on an upstream that is already
// failing (a retry storm). It is shared by every route to the upstream and kept across
// reloads. Safe for concurrent use; lock-free.
//
// The window is a ring of per-slice counters. A slice is reset by whoever first touches
// it in a new period; a count racing with that reset may be lost, an accepted
// imprecision of at most a few requests per period.
type Budget struct {
	percent int64
	min     int64 // retries always allowed over the whole window
	slice   int64 // nanoseconds per bucket
	buckets [budgetBuckets]budgetBucket
	now     func() time.Time
}

type budgetBucket struct {
	period   atomic.Int64 // index of the slice of time this bucket counts
	requests atomic.Int64
	retries  atomic.Int64
}

// NewBudget returns a Budget.
func NewBudget(o BudgetOptions) *Budget {
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	b := &Budget{percent: int64(o.Percent), now: time.Now}
	b.slice = int64(o.Window) / budgetBuckets
	if b.slice <= 0 {
		b.slice = 1
	}
	b.min = int64(o.MinPerSecond) * int64(o.Window) / int64(time.Second)
	return b
}

func (b *Budget) bucket() *budgetBucket {
	p := b.now().UnixNano() / b.slice
	bk := &b.buckets[p%budgetBuckets]
	if old := bk.period.Load(); old != p && bk.period.CompareAndSwap(old, p) {
		bk.requests.Store(0)
		bk.retries.Store(0)
	}
	return bk
}

// Request counts one request (not its retries). Serve calls it once per request.
func (b *Budget) Request() { b.bucket().requests.Add(1) }

// Retry reports whether one more retry fits the budget and, if so, counts it.
func (b *Budget) Retry() bool {
	cur := b.bucket()
	p := cur.period.Load()
	var reqs, retries int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if q := bk.period.Load(); q > p-budgetBuckets && q <= p {
			reqs += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	if retries >= reqs*b.percent/100+b.min {
		return false
	}
	cur.retries.Add(1)
	return true
}
