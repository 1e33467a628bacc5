package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/observe"
)

// Options configures a Gateway.
type Options struct {
	// Logger receives the process log; nil means slog.Default().
	Logger *slog.Logger
	// Version is reported in the admin API and gantry_build_info.
	Version string
	// AccessLogWriter replaces the configured access-log output (tests, embedding).
	AccessLogWriter io.Writer
}

// Gateway runs listeners over the current Snapshot and swaps snapshots on reload.
type Gateway struct {
	opts Options
	log  *slog.Logger

	snap    atomic.Pointer[Snapshot]
	metrics *observe.Metrics // one registry for the process, across reloads

	mu        sync.Mutex // serialises Start, Reload and Shutdown; guards the fields below
	listeners map[string]*listener
	upstreams map[string]*upstream
	routes    map[string]*route
	states    map[string]*balancer.State
	started   bool
	closed    bool
	stop      chan struct{}  // closed by Shutdown; ends background loops
	drains    sync.WaitGroup // retired listeners still draining
}

// ErrClosed is returned by Reload and Start after Shutdown.
var ErrClosed = errors.New("gateway is shut down")

// New builds the first snapshot from cfg and binds every listener; nothing is served
// until Start. On error nothing is left open.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	g := &Gateway{
		opts:      opts,
		log:       opts.Logger,
		listeners: map[string]*listener{},
		upstreams: map[string]*upstream{},
		routes:    map[string]*route{},
		stop:      make(chan struct{}),
		states:    map[string]*balancer.State{},
	}
	g.metrics = observe.NewMetrics(opts.Version)
	g.metrics.SetTargetSource(g)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.apply(cfg); err != nil {
		return nil, err
	}
	g.metrics.ConfigLoaded(cfg.Hash, time.Now())
	return g, nil
}

// Metrics returns the process's metrics (for /metrics).
func (g *Gateway) Metrics() *observe.Metrics { return g.metrics }

// ReloadFailed counts a reload that was rejected before reaching Reload (invalid config).
func (g *Gateway) ReloadFailed(err error) {
	g.metrics.ConfigReloaded("", err, time.Now())
}

// ReopenLogs reopens the access-log file (after log rotation; SIGHUP does it).
func (g *Gateway) ReopenLogs() error {
	if o := g.snap.Load().obs; o != nil {
		return o.Reopen()
	}
	return nil
}

// AppendTargets implements observe.TargetSource from the current snapshot.
func (g *Gateway) AppendTargets(dst []observe.TargetRow) []observe.TargetRow {
	s := g.snap.Load()
	if s == nil {
		return dst
	}
	for _, name := range slices.Sorted(maps.Keys(s.upstreams)) {
		for _, t := range s.upstreams[name].set.Targets() {
			dst = append(dst, observe.TargetRow{Upstream: name, Target: t.URL, Healthy: t.State.Healthy(), InFlight: t.State.InFlight()})
		}
	}
	return dst
}

// Start serves on every listener. It returns at once.
func (g *Gateway) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.started = true
	for _, l := range g.listeners {
		l.start()
	}
	go g.watchCertificates(2 * time.Second)
	return nil
}

// watchCertificates reloads TLS certificate files that changed on disk; a bad new pair
// keeps the old one (tlsconf logs it).
func (g *Gateway) watchCertificates(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.mu.Lock()
		for _, l := range g.listeners {
			if l.tls != nil {
				if _, err := l.tls.ReloadIfChanged(); err != nil {
					g.log.Warn("tls certificate reload failed; keeping the previous one", "listener", l.cfg.Name, "err", err)
				}
			}
		}
		g.mu.Unlock()
	}
}

// Snapshot returns the current snapshot.
func (g *Gateway) Snapshot() *Snapshot { return g.snap.Load() }

// Addr returns the bound address of a listener (useful with port 0), or nil.
func (g *Gateway) Addr(listener string) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l := g.listeners[listener]; l != nil {
		return l.addr()
	}
	return nil
}

// Reload builds a snapshot from cfg and swaps it in. On any error the running snapshot
// and listeners stay exactly as they were. It returns what changed.
func (g *Gateway) Reload(cfg *config.Config) (config.Changes, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return config.Changes{}, ErrClosed
	}
	changes, err := g.apply(cfg)
	g.metrics.ConfigReloaded(cfg.Hash, err, time.Now())
	return changes, err
}

// apply builds, binds, swaps and retires. g.mu is held.
func (g *Gateway) apply(cfg *config.Config) (config.Changes, error) {
	old := g.snap.Load()
	snap, created, err := g.build(cfg)
	if err != nil {
		return config.Changes{}, err
	}
	// Bind new sockets and prepare servers before anything becomes visible.
	next, err := g.prepareListeners(cfg)
	if err != nil {
		for _, u := range created {
			u.retire(false)
		}
		return config.Changes{}, err
	}
	snap.Built = time.Now()
	g.snap.Store(snap)

	// Commit: start new runtimes, switch listeners, retire what is no longer used.
	for _, u := range created {
		u.start()
	}
	oldListeners := g.listeners
	g.listeners = next
	inUse := map[*socket]bool{}
	for _, l := range next {
		inUse[l.sock] = true
		if l.redirect != nil {
			inUse[l.redirect.sock] = true
		}
	}
	for _, l := range next {
		if l.tcp != nil || l.udp != nil {
			l.setTable(snap)
		}
	}
	for name, l := range next {
		// A new listener on a socket an old one holds takes over new connections as it
		// attaches; the old one's server then drains below.
		if oldListeners[name] != l && g.started {
			l.start()
		}
	}
	for name, l := range oldListeners {
		if next[name] != l {
			g.retireListener(l, inUse)
		}
	}
	if old != nil && old.obs != snap.obs {
		g.retireObserver(old.obs)
	}
	var rms []*observe.RouteMetrics
	for _, r := range snap.routes {
		rms = append(rms, r.metrics)
	}
	g.metrics.RetainRoutes(rms)
	var tms []*observe.TargetMetrics
	for _, u := range snap.upstreams {
		for _, tm := range u.targetMetrics {
			tms = append(tms, tm)
		}
	}
	g.metrics.RetainTargets(tms)
	oldRoutes := g.routes
	g.routes = snap.routes
	for k, r := range oldRoutes {
		if snap.routes[k] != r {
			r.retire()
		}
	}
	oldUpstreams := g.upstreams
	g.upstreams = snap.upstreams
	for name, u := range oldUpstreams {
		if nu := snap.upstreams[name]; nu != u {
			u.retire(nu != nil && nu.transport == u.transport)
		}
	}
	g.refreshStates()

	var changes config.Changes
	if old != nil {
		changes = config.Diff(old.Config, cfg)
	}
	return changes, nil
}

// retireObserver closes a replaced observer once requests that may still use it are
// done (its access log flushes on Close).
func (g *Gateway) retireObserver(o *observe.Observer) {
	g.drains.Add(1)
	go func() {
		defer g.drains.Done()
		select {
		case <-time.After(5 * time.Second):
		case <-g.stop:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := o.Close(ctx); err != nil {
			g.log.Warn("closing the previous observer", "err", err)
		}
	}()
}

// refreshStates keeps exactly the target states the current runtimes use.
func (g *Gateway) refreshStates() {
	states := map[string]*balancer.State{}
	for name, u := range g.upstreams {
		for _, t := range u.set.Targets() {
			states[stateKey(name, t.URL)] = t.State
		}
	}
	g.states = states
}

// retireListener shuts a listener down in the background, bounded by its drain timeout.
func (g *Gateway) retireListener(l *listener, keep map[*socket]bool) {
	g.drains.Add(1)
	go func() {
		defer g.drains.Done()
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeouts.Drain.D())
		defer cancel()
		if err := l.shutdown(ctx, keep); err != nil {
			g.log.Warn("listener drain cut short", "listener", l.cfg.Name, "err", err)
		}
	}()
}

// Shutdown stops accepting on every listener, lets in-flight requests finish until ctx
// is done, then closes what is left and stops background work.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.stop)
	listeners := g.listeners
	g.mu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, len(listeners)+1)
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.shutdown(ctx, nil); err != nil {
				errs <- fmt.Errorf("listener %s: %w", l.cfg.Name, err)
			}
		}()
	}
	wg.Wait()
	g.drains.Wait()
	g.mu.Lock()
	for _, u := range g.upstreams {
		u.retire(false)
	}
	for _, r := range g.routes {
		r.retire()
	}
	obs := g.snap.Load().obs
	g.mu.Unlock()
	if err := obs.Close(ctx); err != nil {
		errs <- fmt.Errorf("observer: %w", err)
	}
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
