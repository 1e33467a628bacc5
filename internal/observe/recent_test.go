package observe

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/config"
)

func TestRecentErrorsRecordsOnlyFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		reason string
		want   bool
	}{
		{name: "ok", status: 200, want: false},
		{name: "upstream 404 is the backend's answer", status: 404, want: false},
		{name: "no route", status: 404, reason: "no_route", want: true},
		{name: "rate limited", status: 429, reason: "rate_limited", want: true},
		{name: "upstream 500", status: 500, want: true},
		{name: "gateway 502", status: 502, reason: "upstream_connect_failed", want: true},
		{name: "client gone", status: 0, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newTestObserver(t, config.Observe{}, Options{Version: "t"})
			rm := o.Metrics.Route("orders", "shop")
			rec := &Record{Start: time.Now(), RequestID: "rid-1", Method: "GET", Host: "h", Path: "/p", Route: rm, Status: tc.status, Reason: tc.reason, Target: "127.0.0.1:1"}
			o.End(rec)
			got, total := o.Metrics.RecentErrors(nil)
			if (len(got) == 1) != tc.want || (total == 1) != tc.want {
				t.Fatalf("RecentErrors() = %d records (total %d), want recorded=%v", len(got), total, tc.want)
			}
			if !tc.want {
				return
			}
			r := got[0]
			if r.RequestID != "rid-1" || r.Route != "orders" || r.Upstream != "shop" || r.Status != tc.status || r.Reason != tc.reason || r.Target != "127.0.0.1:1" || r.Path != "/p" {
				t.Errorf("RecentErrors()[0] = %+v, want the request's fields", r)
			}
		})
	}
}

func TestRecentErrorsKeepsNewestFirst(t *testing.T) {
	t.Parallel()
	o := newTestObserver(t, config.Observe{}, Options{Version: "t"})
	const n = RecentErrorsSize + 37
	for i := range n {
		o.End(&Record{Start: time.Now(), RequestID: fmt.Sprint(i), Status: 503, Reason: "no_healthy_target"})
	}
	got, total := o.Metrics.RecentErrors(nil)
	if total != n {
		t.Errorf("RecentErrors() total = %d, want %d", total, n)
	}
	if len(got) != RecentErrorsSize {
		t.Fatalf("RecentErrors() len = %d, want %d", len(got), RecentErrorsSize)
	}
	for i, r := range got {
		if want := fmt.Sprint(n - 1 - i); r.RequestID != want {
			t.Fatalf("RecentErrors()[%d].RequestID = %s, want %s", i, r.RequestID, want)
		}
	}
}

func TestRecentErrorsConcurrent(t *testing.T) {
	t.Parallel()
	o := newTestObserver(t, config.Observe{}, Options{Version: "t"})
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				o.End(&Record{Start: time.Now(), RequestID: fmt.Sprintf("%d-%d", w, i), Status: 500})
			}
		}()
	}
	for range 50 { // readers race with the writers
		o.Metrics.RecentErrors(nil)
	}
	wg.Wait()
	got, total := o.Metrics.RecentErrors(nil)
	if total != writers*each || len(got) != RecentErrorsSize {
		t.Errorf("RecentErrors() = %d records, total %d; want %d, %d", len(got), total, RecentErrorsSize, writers*each)
	}
}

func TestReloadStatus(t *testing.T) {
	t.Parallel()
	m := NewMetrics("t")
	t0 := time.Unix(1000, 0)
	m.ConfigLoaded("h1", t0)
	m.ConfigReloaded("", errors.New("routes[0].upstream: unknown upstream"), t0.Add(time.Second))
	st := m.ReloadStatus()
	if st.OK || st.Error == "" || st.Failures != 1 || st.Hash != "h1" || !st.FirstLoad.Equal(t0) || !st.LastSuccess.Equal(t0) {
		t.Errorf("ReloadStatus() after a failure = %+v, want not ok, 1 failure, hash h1", st)
	}
	m.ConfigReloaded("h2", nil, t0.Add(2*time.Second))
	st = m.ReloadStatus()
	if !st.OK || st.Error != "" || st.Successes != 1 || st.Hash != "h2" || !st.FirstLoad.Equal(t0) || !st.LastSuccess.Equal(t0.Add(2*time.Second)) {
		t.Errorf("ReloadStatus() after a success = %+v, want ok, 1 success, hash h2, first load kept", st)
	}
}

// BenchmarkEndRecordsError is Observer.End for a failed request: the error copy into
// the recent-errors ring must not allocate either.
func BenchmarkEndRecordsError(b *testing.B) {
	o := newTestObserver(b, config.Observe{}, Options{Version: "b"})
	rm := o.Metrics.Route("orders", "shop")
	rec := &Record{Method: "GET", Route: rm, Status: 502, Reason: "upstream_connect_failed", Start: time.Now(), RequestID: "x"}
	b.ReportAllocs()
	for b.Loop() {
		rec.Duration = 0
		o.End(rec)
	}
}
