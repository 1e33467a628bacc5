package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/health"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/proxy"
)

// upstream is the runtime of one configured upstream. It is shared by every snapshot
// in which the upstream's config is unchanged.
type upstream struct {
	cfg       *config.Upstream
	set       *balancer.Set
	transport *http.Transport // nil for tcp/udp upstreams
	checker   *health.Checker // nil without active checks
	outlier   *health.Outlier // nil without outlier detection
	budget    *proxy.Budget
	breaker   *proxy.Breaker
	hashKey   balancer.Key // consistent_hash key, read the same way on every request path
	// targetMetrics are the per-target metric handles, by target.
	targetMetrics map[*balancer.Target]*observe.TargetMetrics
}

// observeTry is the proxy's per-try hook: per-target metrics.
func (u *upstream) observeTry(t *balancer.Target, status int, d time.Duration) {
	if tm := u.targetMetrics[t]; tm != nil {
		tm.Observe(status, d)
	}
}

// stateKey identifies a target's shared state across reloads.
func stateKey(upstream, url string) string { return upstream + "\x00" + url }

// buildUpstream returns old when the config is unchanged, else a new runtime that keeps
// what it can of old (target states, connection pool). l4 tells whether the upstream
// serves tcp/udp listeners. The returned bool is true for a new runtime that must be
// started (health checks) and, if the reload fails, retired.
func (g *Gateway) buildUpstream(uc *config.Upstream, old *upstream, l4 bool) (*upstream, bool, error) {
	if old != nil && config.Same(old.cfg, uc) {
		return old, false, nil
	}
	targets := make([]*balancer.Target, 0, len(uc.Targets))
	for _, tc := range uc.Targets {
		k := stateKey(uc.Name, tc.URL)
		st := g.states[k]
		if st == nil {
			st = new(balancer.State)
		}
		t, err := balancer.NewTarget(tc.URL, tc.Weight, st)
		if err != nil {
			return nil, false, fmt.Errorf("upstream %s: target %s: %w", uc.Name, tc.URL, err)
		}
		targets = append(targets, t)
	}
	factory, err := balancer.New(uc.Balance)
	if err != nil {
		return nil, false, fmt.Errorf("upstream %s: %w", uc.Name, err)
	}
	u := &upstream{cfg: uc}
	if uc.HashKey != "" {
		if u.hashKey, err = balancer.ParseKey(uc.HashKey); err != nil {
			return nil, false, fmt.Errorf("upstream %s: hash_key: %w", uc.Name, err)
		}
	}
	so := balancer.SetOptions{Factory: factory, HashKey: uc.HashKey}
	if uc.Outlier != nil {
		so.PanicThreshold = uc.Outlier.PanicThreshold
		so.MaxEjectedPercent = uc.Outlier.MaxEjectedPercent
	}
	if uc.Health != nil {
		so.SlowStart = uc.Health.SlowStart.D()
	}
	u.set = balancer.NewSet(targets, so)
	u.targetMetrics = make(map[*balancer.Target]*observe.TargetMetrics, len(targets))
	for _, t := range targets {
		u.targetMetrics[t] = g.metrics.Target(uc.Name, t.URL)
	}
	if !l4 {
		if old != nil && old.transport != nil && config.Same(old.cfg.Timeouts, uc.Timeouts) && config.Same(old.cfg.CircuitBreaker, uc.CircuitBreaker) {
			u.transport = old.transport
		} else {
			to := proxy.TransportOptions{
				ConnectTimeout: uc.Timeouts.Connect.D(),
				IdleTimeout:    uc.Timeouts.Idle.D(),
				H2C:            len(targets) > 0 && targets[0].Scheme == "h2c", // validation keeps schemes uniform
			}
			if cb := uc.CircuitBreaker; cb != nil && cb.MaxConnections > 0 {
				to.MaxConnsPerHost = max(1, cb.MaxConnections/len(targets))
			}
			u.transport = proxy.NewTransport(to)
		}
	}
	if uc.Health != nil {
		u.checker = health.New(health.Options{Config: uc.Health, Targets: targets, Setter: u.set, Logger: g.log.With("upstream", uc.Name)})
	}
	if uc.Outlier != nil {
		u.outlier = health.NewOutlier(uc.Outlier, u.set)
	}
	if uc.Retries != nil { // config.Parse always sets it; nil only for hand-built configs
		u.budget = proxy.NewBudget(proxy.BudgetOptions{Percent: uc.Retries.BudgetPercent, MinPerSecond: proxy.DefaultMinRetriesPerSecond})
	}
	if cb := uc.CircuitBreaker; cb != nil && (cb.MaxRequests > 0 || cb.MaxPending > 0 || cb.MaxConnections > 0) {
		u.breaker = proxy.NewBreaker(proxy.BreakerOptions{MaxRequests: cb.MaxRequests, MaxPending: cb.MaxPending, MaxConnections: cb.MaxConnections})
	}
	return u, true, nil
}

// start begins background work of a new runtime.
func (u *upstream) start() {
	if u.checker != nil {
		u.checker.Start()
	}
}

// retire stops background work; in-flight requests on the runtime finish. keepTransport
// is true when a newer runtime took over the connection pool.
func (u *upstream) retire(keepTransport bool) {
	if u.checker != nil {
		u.checker.Stop()
	}
	u.set.Close()
	if u.transport != nil && !keepTransport {
		u.transport.CloseIdleConnections()
	}
}

// retryPolicy turns a retries section into the proxy's policy.
func retryPolicy(r *config.Retries) proxy.RetryPolicy {
	if r == nil {
		return proxy.RetryPolicy{}
	}
	p := proxy.RetryPolicy{Attempts: 2, PerTryTimeout: r.PerTryTimeout.D(), NonIdempotent: r.NonIdempotent}
	if r.Attempts != nil {
		p.Attempts = *r.Attempts
	}
	for _, on := range r.On {
		switch on {
		case "connect":
			p.OnConnect = true
		case "timeout":
			p.OnTimeout = true
		default:
			if code, err := strconv.Atoi(on); err == nil {
				p.Statuses = append(p.Statuses, code)
			}
		}
	}
	return p
}
