package config

import (
	"slices"
	"strings"
	"time"
)

// Documented defaults. applyDefaults writes them into a decoded Config so that the
// gateway and feature packages never interpret a zero value themselves.
const (
	DefaultProtocol          = ProtocolHTTP
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultDrainTimeout      = 30 * time.Second
	DefaultMaxHeaderBytes    = Size(64 << 10)
	DefaultMaxHeaderCount    = 100
	DefaultMaxURILength      = Size(8 << 10)
	DefaultTLSMinVersion     = "1.2"

	DefaultBalance               = BalanceRoundRobin
	DefaultConnectTimeout        = 5 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultUpstreamIdleTimeout   = 90 * time.Second
	DefaultWeight                = 1

	DefaultHealthPath               = "/"
	DefaultHealthExpectStatus       = "200-399"
	DefaultHealthInterval           = 10 * time.Second
	DefaultHealthTimeout            = 2 * time.Second
	DefaultHealthyThreshold         = 2
	DefaultUnhealthyThreshold       = 3
	DefaultOutlierFailures          = 5
	DefaultOutlierBaseEjection      = 30 * time.Second
	DefaultOutlierMaxEjection       = 5 * time.Minute
	DefaultOutlierMaxEjectedPercent = 50
	DefaultOutlierPanicThreshold    = 50

	DefaultRetryAttempts      = 2
	DefaultRetryBudgetPercent = 20

	DefaultMaxBodyBytes = Size(64 << 10)

	DefaultAdminAddress = "127.0.0.1:9901"
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"
)

// Health check types.
const (
	HealthHTTP = "http"
	HealthTCP  = "tcp"
	HealthGRPC = "grpc"
)

// DefaultRetryOn is what is retried when retries.on is not given. Callers must not modify it.
var DefaultRetryOn = []string{"connect", "502", "503"}

// applyDefaults fills every absent knob that has a documented default. It runs after
// decoding and before validation, so validation sees effective values and an explicit
// zero (which defaults leave alone) can be rejected where it makes no sense.
func applyDefaults(c *Config) {
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	if c.Admin != nil && c.Admin.Address == "" {
		c.Admin.Address = DefaultAdminAddress
	}
	for _, l := range c.Listeners {
		if l == nil {
			continue
		}
		defaultListener(l)
	}
	use := upstreamUse(c)
	for name, u := range c.Upstreams {
		if u == nil {
			continue
		}
		defaultUpstream(u, use[name].l4())
	}
	for _, r := range c.Routes {
		if r == nil {
			continue
		}
		defaultRoute(r, c.Upstreams[r.Upstream])
	}
	defaultSecurity(c)
	defaultObserve(c)
}

func defaultListener(l *Listener) {
	if l.Protocol == "" {
		l.Protocol = DefaultProtocol
	}
	if l.Engine == "" && l.Protocol == ProtocolHTTP {
		l.Engine = EngineFast
	}
	defDuration(l.Timeouts.At, "read_header", &l.Timeouts.ReadHeader, DefaultReadHeaderTimeout)
	defDuration(l.Timeouts.At, "idle", &l.Timeouts.Idle, DefaultIdleTimeout)
	defDuration(l.Timeouts.At, "drain", &l.Timeouts.Drain, DefaultDrainTimeout)
	if !l.Limits.Has("max_header_bytes") {
		l.Limits.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if !l.Limits.Has("max_header_count") {
		l.Limits.MaxHeaderCount = DefaultMaxHeaderCount
	}
	if !l.Limits.Has("max_uri_length") {
		l.Limits.MaxURILength = DefaultMaxURILength
	}
	if l.TLS != nil && l.TLS.MinVersion == "" {
		l.TLS.MinVersion = DefaultTLSMinVersion
	}
}

func defaultUpstream(u *Upstream, l4 bool) {
	if u.Balance == "" {
		u.Balance = DefaultBalance
	}
	for i := range u.Targets {
		if !u.Targets[i].Has("weight") {
			u.Targets[i].Weight = DefaultWeight
		}
	}
	defDuration(u.Timeouts.At, "connect", &u.Timeouts.Connect, DefaultConnectTimeout)
	defDuration(u.Timeouts.At, "response_header", &u.Timeouts.ResponseHeader, DefaultResponseHeaderTimeout)
	defDuration(u.Timeouts.At, "idle", &u.Timeouts.Idle, DefaultUpstreamIdleTimeout)
	if h := u.Health; h != nil {
		if h.Type == "" {
			h.Type = HealthHTTP
			if l4 {
				h.Type = HealthTCP
			}
		}
		if h.Path == "" {
			h.Path = DefaultHealthPath
		}
		if h.ExpectStatus == "" {
			h.ExpectStatus = DefaultHealthExpectStatus
		}
		defDuration(h.At, "interval", &h.Interval, DefaultHealthInterval)
		// A check must end before the next one starts; with a short interval the
		// default timeout shrinks to half of it instead of making the config invalid.
		defDuration(h.At, "timeout", &h.Timeout, min(DefaultHealthTimeout, h.Interval.D()/2))
		defDuration(h.At, "jitter", &h.Jitter, h.Interval.D()/10)
		defInt(h.At, "healthy_threshold", &h.HealthyThreshold, DefaultHealthyThreshold)
		defInt(h.At, "unhealthy_threshold", &h.UnhealthyThreshold, DefaultUnhealthyThreshold)
	}
	if o := u.Outlier; o != nil {
		defInt(o.At, "consecutive_failures", &o.ConsecutiveFailures, DefaultOutlierFailures)
		defDuration(o.At, "base_ejection", &o.BaseEjection, DefaultOutlierBaseEjection)
		defDuration(o.At, "max_ejection", &o.MaxEjection, DefaultOutlierMaxEjection)
		defInt(o.At, "max_ejected_percent", &o.MaxEjectedPercent, DefaultOutlierMaxEjectedPercent)
		defInt(o.At, "panic_threshold", &o.PanicThreshold, DefaultOutlierPanicThreshold)
	}
	if u.Retries == nil {
		u.Retries = &Retries{At: At{Pos: u.Field("retries"), Path: u.FieldPath("retries")}}
	}
	defaultRetries(u.Retries)
}

func defaultRetries(r *Retries) {
	if r.Attempts == nil {
		n := DefaultRetryAttempts
		r.Attempts = &n
	}
	if !r.Has("on") {
		r.On = slices.Clone(DefaultRetryOn)
	}
	defInt(r.At, "budget_percent", &r.BudgetPercent, DefaultRetryBudgetPercent)
}

// defaultRoute fills a route's defaults and copies what it inherits from its upstream
// (timeouts, retries), so a route alone says how its requests are proxied.
func defaultRoute(r *Route, u *Upstream) {
	// Methods are case-sensitive on the wire (RFC 9110 section 9.1), but "get" in a config
	// means GET; hosts compare case-insensitively. Normalising once spares the router.
	for i, m := range r.Match.Methods {
		r.Match.Methods[i] = strings.ToUpper(m)
	}
	for i, h := range r.Match.Hosts {
		r.Match.Hosts[i] = strings.ToLower(h)
	}
	if !r.Match.Has("max_body_bytes") {
		r.Match.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if r.Retries != nil {
		defaultRetries(r.Retries)
	}
	if u == nil {
		return
	}
	if r.Timeouts.Connect == 0 {
		r.Timeouts.Connect = u.Timeouts.Connect
	}
	if r.Timeouts.ResponseHeader == 0 {
		r.Timeouts.ResponseHeader = u.Timeouts.ResponseHeader
	}
	if r.Retries == nil {
		r.Retries = u.Retries
	}
}

func defDuration(a At, key string, d *Duration, def time.Duration) {
	if !a.Has(key) {
		*d = Duration(def)
	}
}

func defInt(a At, key string, i *int, def int) {
	if !a.Has(key) {
		*i = def
	}
}

// use says which parts of the config refer to an upstream.
type use struct {
	// routes are indexes of routes naming the upstream (HTTP use).
	routes []int
	// listeners are names of tcp/udp listeners forwarding to it (directly or by SNI).
	listeners []string
}

func (u use) l4() bool { return len(u.listeners) > 0 }

// upstreamUse maps upstream names to their users; listeners in name order.
func upstreamUse(c *Config) map[string]use {
	m := map[string]use{}
	for _, name := range sortedKeys(c.Listeners) {
		l := c.Listeners[name]
		if l == nil || l.Protocol == ProtocolHTTP {
			continue
		}
		refs := []string{}
		if l.Upstream != "" {
			refs = append(refs, l.Upstream)
		}
		for _, sni := range sortedKeys(l.SNI) {
			refs = append(refs, l.SNI[sni])
		}
		for _, up := range refs {
			u := m[up]
			if !slices.Contains(u.listeners, name) {
				u.listeners = append(u.listeners, name)
			}
			m[up] = u
		}
	}
	for i, r := range c.Routes {
		if r == nil || r.Upstream == "" {
			continue
		}
		u := m[r.Upstream]
		u.routes = append(u.routes, i)
		m[r.Upstream] = u
	}
	return m
}
