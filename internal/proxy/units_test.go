package proxy

import (
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	tests := []struct {
		name        string
		opts        BudgetOptions
		requests    int
		wantRetries int
	}{
		{name: "percent of requests", opts: BudgetOptions{Percent: 20}, requests: 50, wantRetries: 10},
		{name: "minimum without traffic", opts: BudgetOptions{MinPerSecond: 3}, requests: 0, wantRetries: 30},
		{name: "both add up", opts: BudgetOptions{Percent: 10, MinPerSecond: 1, Window: 2 * time.Second}, requests: 30, wantRetries: 5},
		{name: "zero budget", opts: BudgetOptions{}, requests: 100, wantRetries: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := NewBudget(tc.opts)
			b.now = func() time.Time { return now }
			for range tc.requests {
				b.Request()
			}
			got := 0
			for range 1000 {
				if !b.Retry() {
					break
				}
				got++
			}
			if got != tc.wantRetries {
				t.Errorf("Retry() allowed %d, want %d", got, tc.wantRetries)
			}
		})
	}
}

func TestBudgetWindowSlides(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	b := NewBudget(BudgetOptions{Percent: 100, Window: 10 * time.Second})
	b.now = func() time.Time { return now }
	b.Request()
	if !b.Retry() || b.Retry() {
		t.Fatal("Retry() with 1 request at 100% should allow exactly one")
	}
	now = now.Add(11 * time.Second)
	if b.Retry() {
		t.Error("Retry() allowed after the window passed with no new requests")
	}
	b.Request()
	if !b.Retry() {
		t.Error("Retry() refused after a new request in a fresh window")
	}
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts BreakerOptions
		want int // admitted out of 10 concurrent
	}{
		{name: "max requests", opts: BreakerOptions{MaxRequests: 3}, want: 3},
		{name: "connections plus pending", opts: BreakerOptions{MaxConnections: 2, MaxPending: 2}, want: 4},
		{name: "smallest cap wins", opts: BreakerOptions{MaxRequests: 5, MaxConnections: 1, MaxPending: 1}, want: 2},
		{name: "no cap", opts: BreakerOptions{}, want: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := NewBreaker(tc.opts)
			got := 0
			for range 10 {
				if b.Acquire() {
					got++
				}
			}
			if got != tc.want || b.InFlight() != int64(tc.want) {
				t.Fatalf("Acquire() admitted %d (in flight %d), want %d", got, b.InFlight(), tc.want)
			}
			b.Release()
			if tc.want < 10 && !b.Acquire() {
				t.Error("Acquire() refused after a Release")
			}
		})
	}
	var nilBreaker *Breaker
	if !nilBreaker.Acquire() {
		t.Error("nil Breaker refused")
	}
}
