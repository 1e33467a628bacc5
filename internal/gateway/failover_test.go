package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

func targetStatus(g *Gateway, upstream, url string) balancer.TargetStatus {
	for _, st := range g.Snapshot().upstreams[upstream].set.Status() {
		if st.URL == url {
			return st
		}
	}
	return balancer.TargetStatus{}
}

// TestFailoverKillAndRestart kills one of three real backends during a load loop: with
// retries on, clients see no error; active checks mark it down within interval ×
// threshold (plus slack for a loaded 2-core box); after a restart it comes back and its
// weight ramps up (slow start) instead of taking a full share at once.
func TestFailoverKillAndRestart(t *testing.T) {
	bs := []*testbackend.HTTP{
		testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "a"}),
		testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "b"}),
		testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "c"}),
	}
	const interval, threshold = 100 * time.Millisecond, 2
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  pool:
    targets: [%q, %q, %q]
    health: { path: /, interval: %s, timeout: 80ms, unhealthy_threshold: %d, healthy_threshold: 2, slow_start: 3s }
    retries: { attempts: 2, on: [connect, 502, 503] }
routes:
  - { name: all, upstream: pool }
`, bs[0].URL, bs[1].URL, bs[2].URL, interval, threshold)))
	url := "http://" + g.Addr("web").String() + "/x"

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 20000; i++ { // bounded
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, func() bool { return ok.Load() > 100 })

	killed := time.Now()
	bs[1].Close()
	waitFor(t, func() bool { return !targetStatus(g, "pool", bs[1].URL).Healthy })
	took := time.Since(killed)
	t.Logf("dead target marked down %v after the kill (interval %v × threshold %d = %v)", took, interval, threshold, interval*threshold)
	// interval × threshold, plus one interval of phase, jitter and a check timeout, plus
	// generous slack for scheduling on a busy 2-core machine.
	if limit := interval*threshold + interval + 80*time.Millisecond + time.Second; took > limit {
		t.Errorf("dead target marked down after %v, want within %v", took, limit)
	}
	before := ok.Load()
	waitFor(t, func() bool { return ok.Load() > before+200 })
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d requests failed after killing a backend (retries on); first: %v", n, firstErr.Load())
	}

	bs[1].Restart()
	waitFor(t, func() bool { return targetStatus(g, "pool", bs[1].URL).Healthy })
	st := targetStatus(g, "pool", bs[1].URL)
	if !st.InPool || st.EffectiveWeight >= 1 {
		t.Fatalf("restarted target: in_pool=%v effective_weight=%v, want in pool with a reduced (slow start) weight", st.InPool, st.EffectiveWeight)
	}
	low := st.EffectiveWeight
	waitFor(t, func() bool { return targetStatus(g, "pool", bs[1].URL).EffectiveWeight > low })
	waitFor(t, func() bool { return targetStatus(g, "pool", bs[1].URL).EffectiveWeight >= 1 })
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d requests failed; first: %v", n, firstErr.Load())
	}
	if !strings.HasPrefix(bs[1].URL, "http://") {
		t.Fatalf("unexpected backend URL %q", bs[1].URL)
	}
}
