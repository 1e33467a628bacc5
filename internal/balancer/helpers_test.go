package balancer

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newTargets returns n targets with fresh States; URLs are never dialled.
func newTargets(tb testing.TB, n int) []*Target {
	tb.Helper()
	ts := make([]*Target, n)
	for i := range ts {
		t, err := NewTarget(fmt.Sprintf("http://127.0.0.1:%d", 9000+i), 1, nil)
		if err != nil {
			tb.Fatal(err)
		}
		ts[i] = t
	}
	return ts
}

// poolOf builds a pool over ts with the given weights (all 1 when none are given).
func poolOf(ts []*Target, weights ...int) *Pool {
	p := &Pool{Targets: ts, Weights: make([]int, len(ts))}
	for i := range ts {
		w := 1
		if i < len(weights) {
			w = weights[i]
		}
		p.Weights[i] = w
		p.TotalWeight += w
	}
	return p
}

// indexOf returns t's position in ts, or -1.
func indexOf(ts []*Target, t *Target) int {
	for i, x := range ts {
		if x == t {
			return i
		}
	}
	return -1
}

// ipN returns a distinct IPv4 address for n (inside 10/8; never dialled).
func ipN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// shares counts picks per target over n picks with info produced by mk.
func shares(tb testing.TB, b Balancer, ts []*Target, n int, mk func(i int) *Info) []float64 {
	tb.Helper()
	counts := make([]float64, len(ts))
	for i := 0; i < n; i++ {
		t, err := b.Pick(mk(i))
		if err != nil {
			tb.Fatalf("Pick() error = %v, want nil", err)
		}
		counts[indexOf(ts, t)]++
	}
	for i := range counts {
		counts[i] /= float64(n)
	}
	return counts
}

// checkShares fails when a share differs from weight/total by more than tol.
func checkShares(tb testing.TB, got []float64, weights []int, tol float64) {
	tb.Helper()
	total := 0
	for _, w := range weights {
		total += w
	}
	for i, w := range weights {
		want := float64(w) / float64(total)
		if math.Abs(got[i]-want) > tol {
			tb.Errorf("share of target %d = %.4f, want %.4f ± %.3f", i, got[i], want, tol)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// noGoroutine fails when a goroutine whose stack mentions fn is still alive after d.
func noGoroutine(tb testing.TB, fn string, d time.Duration) {
	tb.Helper()
	waitFor(tb, "goroutines running "+fn+" to exit", d, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
	})
}

// fakeClock is an injectable clock for SetOptions.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func netipFrom16(a [16]byte) netip.Addr { return netip.AddrFrom16(a) }
