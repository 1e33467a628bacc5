package health

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

// Compile-time guards: the Set is what the gateway passes as both interfaces.
var (
	_ StatusSetter = (*balancer.Set)(nil)
	_ Ejector      = (*balancer.Set)(nil)
)

func mustTarget(tb testing.TB, url string) *balancer.Target {
	tb.Helper()
	t, err := balancer.NewTarget(url, 1, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// fastCheck is a health config with short intervals for tests.
func fastCheck(mod func(*config.HealthCheck)) *config.HealthCheck {
	c := &config.HealthCheck{
		Interval:           config.Duration(20 * time.Millisecond),
		Timeout:            config.Duration(2 * time.Second),
		Jitter:             config.Duration(5 * time.Millisecond),
		HealthyThreshold:   2,
		UnhealthyThreshold: 3,
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// startChecker runs a Checker over targets reporting to a real Set; both stop at the
// end of the test.
func startChecker(tb testing.TB, cfg *config.HealthCheck, opts Options, ts ...*balancer.Target) *balancer.Set {
	tb.Helper()
	set := balancer.NewSet(ts, balancer.SetOptions{})
	opts.Config, opts.Targets, opts.Setter = cfg, ts, set
	c := New(opts)
	c.Start()
	tb.Cleanup(func() {
		c.Stop()
		set.Close()
	})
	return set
}

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

// firstCheck waits for t's first recorded check and returns its error text.
func firstCheck(tb testing.TB, t *balancer.Target) string {
	tb.Helper()
	waitFor(tb, "a check of "+t.URL, 10*time.Second, func() bool { return t.State.LastCheck() != nil })
	return t.State.LastCheck().Err
}

func noGoroutine(tb testing.TB, fn string, d time.Duration) {
	tb.Helper()
	waitFor(tb, "goroutines running "+fn+" to exit", d, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
	})
}

func inPool(s *balancer.Set, t *balancer.Target) bool {
	for _, x := range s.Pool().Targets {
		if x == t {
			return true
		}
	}
	return false
}
