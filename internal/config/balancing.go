package config

import (
	"fmt"
	"strconv"
	"strings"
)

// HealthCheck configures active health checks of an upstream's targets.
type HealthCheck struct {
	At `yaml:"-"`
	// Type is http (default for upstreams of http routes), tcp (default for upstreams of
	// tcp/udp listeners) or grpc.
	Type string `yaml:"type"`
	// Path for http checks; default "/".
	Path string `yaml:"path"`
	// Host header for http checks; default the target's host.
	Host string `yaml:"host"`
	// ExpectStatus is a range "200-399" (default) or one code.
	ExpectStatus string `yaml:"expect_status"`
	// ExpectBody, when set, must occur in the first 64KiB of the body.
	ExpectBody string `yaml:"expect_body"`
	// Service is the grpc.health.v1 service name for grpc checks ("" is the server).
	Service string `yaml:"service"`
	// Interval between checks of one target; default 10s.
	Interval Duration `yaml:"interval"`
	// Timeout of one check; default 2s, or half of Interval when that is shorter; must be
	// shorter than Interval.
	Timeout Duration `yaml:"timeout"`
	// Jitter adds up to this much random delay to each interval; default 10% of Interval
	// (0 written explicitly: none).
	Jitter Duration `yaml:"jitter"`
	// HealthyThreshold consecutive passes bring a target back; default 2.
	HealthyThreshold int `yaml:"healthy_threshold"`
	// UnhealthyThreshold consecutive failures take it out; default 3.
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
	// SlowStart ramps a recovered target's weight from ~0 to full over this window; 0 (default): off.
	SlowStart Duration `yaml:"slow_start"`
}

// Outlier configures passive health: ejecting targets that fail real traffic.
type Outlier struct {
	At `yaml:"-"`
	// ConsecutiveFailures (5xx answers or connect failures) that eject a target; default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// BaseEjection is the first ejection's length, multiplied by the number of ejections; default 30s.
	BaseEjection Duration `yaml:"base_ejection"`
	// MaxEjection caps one ejection's length; default 5m.
	MaxEjection Duration `yaml:"max_ejection"`
	// MaxEjectedPercent: never eject more than this share of targets; default 50.
	MaxEjectedPercent int `yaml:"max_ejected_percent"`
	// PanicThreshold: when fewer than this percent of targets are healthy, balance over all;
	// default 50 (0: never).
	PanicThreshold int `yaml:"panic_threshold"`
}

// Retries says when a failed try is repeated on another target.
type Retries struct {
	At `yaml:"-"`
	// Attempts is the number of retries after the first try; default 2 (0 disables).
	Attempts *int `yaml:"attempts"`
	// On lists what is retried: "connect" (connect failure, refused, reset before any
	// response byte), "timeout" (per-try timeout) and status codes like 502, 503, 504;
	// default [connect, 502, 503].
	On []string `yaml:"on"`
	// PerTryTimeout bounds one try (0: only the route's response_header timeout).
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	// NonIdempotent allows retrying POST/PATCH (and other non-idempotent methods); default false.
	NonIdempotent bool `yaml:"non_idempotent"`
	// BudgetPercent caps retries at this share of requests over a 10s window; default 20
	// (0-100; an explicit 0 allows no retries).
	BudgetPercent int `yaml:"budget_percent"`
}

// CircuitBreaker caps the work in flight to an upstream; beyond a cap the gateway answers 503 at once.
type CircuitBreaker struct {
	At `yaml:"-"`
	// MaxConnections to all targets together (0: no cap).
	MaxConnections int `yaml:"max_connections"`
	// MaxPending requests waiting for a connection (0: no cap).
	MaxPending int `yaml:"max_pending"`
	// MaxRequests in flight (0: no cap).
	MaxRequests int `yaml:"max_requests"`
}

// Balancer names accepted in upstreams.*.balance; internal/balancer has one file per name.
const (
	BalanceRoundRobin         = "round_robin"
	BalanceWeightedRoundRobin = "weighted_round_robin"
	BalanceLeastConnections   = "least_connections"
	BalanceLeastRequest       = "least_request"
	BalanceEWMA               = "ewma"
	BalanceIPHash             = "ip_hash"
	BalanceConsistentHash     = "consistent_hash"
	BalanceRandom             = "random"
	BalanceSticky             = "sticky"
)

// BalancerNames lists every accepted balance name, in documentation order. Callers must
// not modify it.
var BalancerNames = []string{
	BalanceRoundRobin, BalanceWeightedRoundRobin, BalanceLeastConnections, BalanceLeastRequest,
	BalanceEWMA, BalanceIPHash, BalanceConsistentHash, BalanceRandom, BalanceSticky,
}

// validateHealth adds the problems of an upstream's active health check.
func validateHealth(h *HealthCheck, ps *Problems) {
	switch h.Type {
	case HealthHTTP, HealthTCP, HealthGRPC:
	default:
		ps.AddField(h.At, "type", "unknown health check type %q (known: http, tcp, grpc)", h.Type)
	}
	if h.Type == HealthHTTP && !strings.HasPrefix(h.Path, "/") {
		ps.AddField(h.At, "path", "health check path %q must start with \"/\"", h.Path)
	}
	if _, _, err := ParseStatusRange(h.ExpectStatus); err != nil {
		ps.AddField(h.At, "expect_status", "%s", err)
	}
	if h.Interval <= 0 {
		ps.AddField(h.At, "interval", "must be greater than 0")
	}
	switch {
	case h.Timeout <= 0:
		ps.AddField(h.At, "timeout", "must be greater than 0")
	case h.Interval > 0 && h.Timeout >= h.Interval:
		ps.AddField(h.At, "timeout", "timeout %s must be shorter than interval %s", h.Timeout.D(), h.Interval.D())
	}
	if h.HealthyThreshold < 1 {
		ps.AddField(h.At, "healthy_threshold", "must be at least 1, got %d", h.HealthyThreshold)
	}
	if h.UnhealthyThreshold < 1 {
		ps.AddField(h.At, "unhealthy_threshold", "must be at least 1, got %d", h.UnhealthyThreshold)
	}
}

// ParseStatusRange reads an expect_status value, "200" or "200-399", within 100-599.
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || len(a) != 3 || (isRange && len(b) != 3) {
		return 0, 0, fmt.Errorf("invalid status %q (write a code like 200 or a range like 200-399)", s)
	}
	if lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("invalid status range %q (codes are 100-599, low to high)", s)
	}
	return lo, hi, nil
}

// validateOutlier adds the problems of passive health settings.
func validateOutlier(o *Outlier, ps *Problems) {
	if o.ConsecutiveFailures < 1 {
		ps.AddField(o.At, "consecutive_failures", "must be at least 1, got %d", o.ConsecutiveFailures)
	}
	if o.BaseEjection <= 0 {
		ps.AddField(o.At, "base_ejection", "must be greater than 0")
	}
	if o.MaxEjection <= 0 {
		ps.AddField(o.At, "max_ejection", "must be greater than 0")
	} else if o.MaxEjection < o.BaseEjection {
		ps.AddField(o.At, "max_ejection", "max_ejection %s is shorter than base_ejection %s", o.MaxEjection.D(), o.BaseEjection.D())
	}
	checkPercent(o.At, "max_ejected_percent", o.MaxEjectedPercent, ps)
	checkPercent(o.At, "panic_threshold", o.PanicThreshold, ps)
}

// validateRetries adds the problems of a retry policy.
func validateRetries(r *Retries, ps *Problems) {
	if r.Attempts != nil && *r.Attempts < 0 {
		ps.AddField(r.At, "attempts", "must not be negative, got %d", *r.Attempts)
	}
	for i, on := range r.On {
		if on == "connect" || on == "timeout" {
			continue
		}
		if code, err := strconv.Atoi(on); err == nil && code >= 500 && code <= 599 && len(on) == 3 {
			continue
		}
		ps.Add(r.Item("on", i), r.ItemPath("on", i),
			"unknown retry condition %q (known: connect, timeout, or a 5xx status code such as 502)", on)
	}
	checkPercent(r.At, "budget_percent", r.BudgetPercent, ps)
}

// validateCircuitBreaker adds the problems of a circuit breaker.
func validateCircuitBreaker(b *CircuitBreaker, ps *Problems) {
	for key, v := range map[string]int{"max_connections": b.MaxConnections, "max_pending": b.MaxPending, "max_requests": b.MaxRequests} {
		if v < 0 {
			ps.AddField(b.At, key, "must not be negative, got %d", v)
		}
	}
}

func checkPercent(a At, key string, v int, ps *Problems) {
	if v < 0 || v > 100 {
		ps.AddField(a, key, "must be a percentage from 0 to 100, got %d", v)
	}
}
