package observe

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RecentErrorsSize is how many error records Metrics keeps for the admin API and the
// dashboard; older ones are overwritten.
const RecentErrorsSize = 128

// ErrorRecord is one request that ended in an error, as the admin API lists it: a 5xx,
// or any answer the gateway made itself (Reason set: no_route, unauthenticated,
// rate_limited, upstream_timeout, ...).
type ErrorRecord struct {
	Time      time.Time     `json:"time"`
	RequestID string        `json:"request_id"`
	Route     string        `json:"route"`
	Upstream  string        `json:"upstream"`
	Method    string        `json:"method"`
	Host      string        `json:"host"`
	Path      string        `json:"path"`
	Target    string        `json:"target,omitempty"`
	Status    int           `json:"status"`
	Reason    string        `json:"reason,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

// recentErrors is a bounded ring of the last RecentErrorsSize error records. Writers
// claim a slot with one atomic add and fill it under that slot's own mutex, so two
// failing requests only contend when they land on the same slot a lap apart; a reader
// locks one slot at a time. Recording copies string headers and allocates nothing;
// requests that record nothing pay one comparison in Observer.End.
type recentErrors struct {
	next  atomic.Uint64 // slots claimed so far; the newest record is at next-1
	slots [RecentErrorsSize]errorSlot
}

type errorSlot struct {
	mu  sync.Mutex
	seq uint64 // claim number + 1 of the record held; 0: empty
	rec ErrorRecord
}

// shouldRecord reports whether a finished request belongs in the recent errors.
func shouldRecord(rec *Record) bool { return rec.Status >= 500 || rec.Reason != "" }

func (r *recentErrors) add(rec *Record) {
	n := r.next.Add(1)
	s := &r.slots[(n-1)%RecentErrorsSize]
	s.mu.Lock()
	if n > s.seq { // a slower writer of an older lap must not overwrite a newer record
		s.seq = n
		s.rec = ErrorRecord{
			// Clones: a Record's strings may view a connection's reused read buffer.
			Time: rec.Start, RequestID: strings.Clone(rec.RequestID), Route: rec.routeName(), Upstream: rec.upstreamName(),
			Method: strings.Clone(rec.Method), Host: strings.Clone(rec.Host), Path: strings.Clone(rec.Path), Target: rec.Target,
			Status: rec.Status, Reason: rec.Reason, Duration: rec.Duration,
		}
	}
	s.mu.Unlock()
}

// RecentErrors appends the kept error records to dst, newest first, and returns it
// with the total number recorded since the Metrics were created (which tells a poller
// how many are new since its last look). Safe for concurrent use with requests.
func (m *Metrics) RecentErrors(dst []ErrorRecord) ([]ErrorRecord, uint64) {
	r := &m.recent
	total := r.next.Load()
	type item struct {
		seq uint64
		rec ErrorRecord
	}
	items := make([]item, 0, RecentErrorsSize)
	for i := range r.slots {
		s := &r.slots[i]
		s.mu.Lock()
		if s.seq != 0 {
			items = append(items, item{s.seq, s.rec})
		}
		s.mu.Unlock()
	}
	// Newest first: insertion sort is fine for 128 mostly ordered items.
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].seq > items[j-1].seq; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
	for _, it := range items {
		dst = append(dst, it.rec)
	}
	return dst, total
}

// ReloadStatus is the outcome of the latest config load or reload attempt.
type ReloadStatus struct {
	// FirstLoad is when the first config was loaded (the gateway's start).
	FirstLoad time.Time `json:"first_load"`
	// At is when the latest attempt ended; OK whether it succeeded; Error why not.
	At    time.Time `json:"at"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
	// LastSuccess is when a config was last loaded successfully, and Hash its hash.
	LastSuccess time.Time `json:"last_success"`
	Hash        string    `json:"hash"`
	// Successes and Failures count reload attempts (the first load is not one).
	Successes int64 `json:"successes"`
	Failures  int64 `json:"failures"`
}

// reloadTracker keeps ReloadStatus beside the reload metrics; it is touched only on
// loads and reloads.
type reloadTracker struct {
	mu sync.Mutex
	st ReloadStatus
}

func (t *reloadTracker) loaded(hash string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.FirstLoad.IsZero() {
		t.st.FirstLoad = at
	}
	t.st.At, t.st.OK, t.st.Error = at, true, ""
	t.st.LastSuccess, t.st.Hash = at, hash
}

func (t *reloadTracker) failed(err error, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.At, t.st.OK, t.st.Error = at, false, err.Error()
	t.st.Failures++
}

func (t *reloadTracker) succeeded() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Successes++
}

// ReloadStatus returns the outcome of the latest load or reload (zero before the first).
func (m *Metrics) ReloadStatus() ReloadStatus {
	m.reload.mu.Lock()
	defer m.reload.mu.Unlock()
	return m.reload.st
}
