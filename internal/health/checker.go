package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

// Check types of health.type.
const (
	TypeHTTP = "http"
	TypeTCP  = "tcp"
	TypeGRPC = "grpc"
)

// Defaults applied to zero fields of config.HealthCheck.
const (
	DefaultInterval           = 10 * time.Second
	DefaultTimeout            = 2 * time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
	DefaultPath               = "/"
	DefaultExpectStatus       = "200-399"
)

// StatusSetter receives health verdicts; *balancer.Set implements it. SetHealthy is
// called only when a target's verdict changes, from the target's check goroutine.
type StatusSetter interface {
	SetHealthy(t *balancer.Target, healthy bool)
}

// Options configures a Checker.
type Options struct {
	// Config is the upstream's health: section; nil fields take the defaults above.
	Config *config.HealthCheck
	// Targets are checked, one goroutine each.
	Targets []*balancer.Target
	// Setter receives verdict changes (nil: verdicts are only recorded in the States).
	Setter StatusSetter
	// Logger gets one line per verdict change (nil: discard).
	Logger *slog.Logger
	// TLS is the client config for https targets and grpc targets with scheme https;
	// nil verifies against the system roots. Certificates are always verified unless
	// the caller passes a config with InsecureSkipVerify set.
	TLS *tls.Config
}

// Checker runs active health checks. Start and Stop may be called from any goroutine;
// Start starts the checks once, Stop ends them and waits for their goroutines.
type Checker struct {
	targets    []*balancer.Target
	setter     StatusSetter
	log        *slog.Logger
	interval   time.Duration
	timeout    time.Duration
	jitter     time.Duration
	healthyN   int
	unhealthyN int
	kind       string // "" means per target: tcp for scheme-less targets, else http
	http       *httpProbe
	grpc       *grpcProbe

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	state  int // 0 new, 1 started, 2 stopped
	wg     sync.WaitGroup
}

// New builds a Checker with defaults applied; it starts nothing. A malformed
// expect_status (config validation should have caught it) falls back to 200-399 with
// a logged warning rather than failing every check.
func New(opts Options) *Checker {
	cfg := opts.Config
	if cfg == nil {
		cfg = &config.HealthCheck{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Checker{
		targets:    opts.Targets,
		setter:     opts.Setter,
		log:        log,
		interval:   orDuration(cfg.Interval.D(), DefaultInterval),
		timeout:    orDuration(cfg.Timeout.D(), DefaultTimeout),
		healthyN:   orInt(cfg.HealthyThreshold, DefaultHealthyThreshold),
		unhealthyN: orInt(cfg.UnhealthyThreshold, DefaultUnhealthyThreshold),
		kind:       cfg.Type,
	}
	c.jitter = cfg.Jitter.D()
	if c.jitter <= 0 {
		c.jitter = c.interval / 10
	}
	lo, hi, err := ParseStatusRange(cfg.ExpectStatus)
	if err != nil {
		log.Warn("health: bad expect_status, using "+DefaultExpectStatus, "err", err)
		lo, hi, _ = ParseStatusRange("")
	}
	c.http = newHTTPProbe(cfg, lo, hi, opts.TLS)
	c.grpc = &grpcProbe{service: cfg.Service, tls: opts.TLS}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Start launches one check goroutine per target; calls after the first, or after
// Stop, do nothing.
func (c *Checker) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != 0 {
		return
	}
	c.state = 1
	for _, t := range c.targets {
		c.wg.Add(1)
		go c.run(t)
	}
}

// Stop ends the checks and waits for their goroutines; a probe in progress is
// cancelled. Idempotent.
func (c *Checker) Stop() {
	c.mu.Lock()
	c.state = 2
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.http.close()
}

// run checks t until Stop: the first probe after a random delay within the jitter,
// then every interval plus jitter.
func (c *Checker) run(t *balancer.Target) {
	defer c.wg.Done()
	healthy := t.State.Healthy()
	passes, fails := 0, 0
	timer := time.NewTimer(c.randJitter())
	defer timer.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-timer.C:
		}
		err := c.probe(t)
		if c.ctx.Err() != nil {
			return // cancelled by Stop: not a verdict on the target
		}
		t.State.RecordCheck(time.Now(), err)
		if err == nil {
			passes, fails = passes+1, 0
		} else {
			passes, fails = 0, fails+1
		}
		switch {
		case !healthy && passes >= c.healthyN:
			healthy = true
			c.log.Info("health: target up", "target", t.URL, "passes", passes)
			c.set(t, true)
		case healthy && fails >= c.unhealthyN:
			healthy = false
			c.log.Warn("health: target down", "target", t.URL, "failures", fails, "err", err)
			c.set(t, false)
		}
		timer.Reset(c.interval + c.randJitter())
	}
}

func (c *Checker) set(t *balancer.Target, healthy bool) {
	if c.setter != nil {
		c.setter.SetHealthy(t, healthy)
	}
}

// probe runs one check of t bounded by the timeout.
func (c *Checker) probe(t *balancer.Target) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	switch c.typeFor(t) {
	case TypeTCP:
		return probeTCP(ctx, t)
	case TypeGRPC:
		return c.grpc.probe(ctx, t)
	case TypeHTTP:
		return c.http.probe(ctx, t)
	}
	return fmt.Errorf("%w: unknown check type %q", ErrCheckFailed, c.kind)
}

// typeFor resolves the default type: tcp for host:port targets (tcp/udp upstreams),
// http for URLs.
func (c *Checker) typeFor(t *balancer.Target) string {
	if c.kind != "" {
		return c.kind
	}
	if t.Scheme == "" {
		return TypeTCP
	}
	return TypeHTTP
}

func (c *Checker) randJitter() time.Duration {
	if c.jitter <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(c.jitter)))
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
