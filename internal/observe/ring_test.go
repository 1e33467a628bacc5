package observe

import (
	"sync"
	"testing"
	"time"
)

func TestRingFIFOAndFull(t *testing.T) {
	t.Parallel()
	r := newRing(3)
	if r.cap() != 4 {
		t.Fatalf("newRing(3).cap() = %d, want 4", r.cap())
	}
	for i := range 4 {
		if !r.push(&logEntry{status: i}) {
			t.Fatalf("push(%d) = false on a ring with room", i)
		}
	}
	if r.push(&logEntry{status: 99}) {
		t.Fatalf("push on a full ring = true, want false")
	}
	var e logEntry
	for lap := range 3 { // several laps reuse every slot
		for i := range 4 {
			if !r.pop(&e) || e.status != lap*4+i {
				t.Fatalf("pop() = %d, want %d", e.status, lap*4+i)
			}
			if !r.push(&logEntry{status: (lap+1)*4 + i}) {
				t.Fatalf("push after pop = false")
			}
		}
	}
	if r.len() != 4 {
		t.Errorf("len() = %d, want 4", r.len())
	}
}

// TestRingConcurrent: every pushed entry is popped exactly once, and each producer's
// entries come out in its order.
func TestRingConcurrent(t *testing.T) {
	t.Parallel()
	const producers, each = 4, 5000
	r := newRing(64)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; i < each; {
				if r.push(&logEntry{retries: p, status: i}) {
					i++
				} else if time.Now().After(deadline) {
					t.Errorf("producer %d stuck at %d", p, i)
					return
				}
			}
		})
	}
	next := make([]int, producers)
	got := 0
	deadline := time.Now().Add(10 * time.Second)
	var e logEntry
	for got < producers*each && time.Now().Before(deadline) {
		if !r.pop(&e) {
			continue
		}
		if e.status != next[e.retries] {
			t.Fatalf("producer %d: popped %d, want %d", e.retries, e.status, next[e.retries])
		}
		next[e.retries]++
		got++
	}
	wg.Wait()
	if got != producers*each {
		t.Fatalf("popped %d entries, want %d", got, producers*each)
	}
	if r.pop(&e) {
		t.Fatalf("pop() on a drained ring = true")
	}
}
