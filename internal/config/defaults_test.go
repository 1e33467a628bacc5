package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `listeners:
  web:
    address: ":8080"
    tls:
      certificates: [{cert_file: a.pem, key_file: a.key}]
  db:
    address: ":5432"
    protocol: tcp
    upstream: pg
upstreams:
  api:
    targets: ["http://127.0.0.1:9001"]
    health: {interval: 1s}
    outlier: {}
  pg:
    targets: ["127.0.0.1:5432"]
    health: {}
routes:
  - name: r
    upstream: api
    match: {methods: [get, Post], hosts: [API.Example.com]}
  - name: s
    upstream: api
    timeouts: {connect: 1s}
    retries: {attempts: 0}
admin: {}
`)
	web, db := c.Listeners["web"], c.Listeners["db"]
	api, pg := c.Upstreams["api"], c.Upstreams["pg"]
	r, s := c.Routes[0], c.Routes[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{name: "listener protocol", got: web.Protocol, want: ProtocolHTTP},
		{name: "read_header", got: web.Timeouts.ReadHeader.D(), want: 10 * time.Second},
		{name: "listener idle", got: web.Timeouts.Idle.D(), want: 120 * time.Second},
		{name: "drain", got: web.Timeouts.Drain.D(), want: 30 * time.Second},
		{name: "max_header_bytes", got: web.Limits.MaxHeaderBytes, want: Size(64 << 10)},
		{name: "max_header_count", got: web.Limits.MaxHeaderCount, want: 100},
		{name: "max_uri_length", got: web.Limits.MaxURILength, want: Size(8 << 10)},
		{name: "max_requests_per_connection unlimited", got: web.Limits.MaxRequestsPerConnection, want: 0},
		{name: "tls min_version", got: web.TLS.MinVersion, want: "1.2"},
		{name: "tcp listener idle", got: db.Timeouts.Idle.D(), want: 120 * time.Second},
		{name: "balance", got: api.Balance, want: BalanceRoundRobin},
		{name: "connect", got: api.Timeouts.Connect.D(), want: 5 * time.Second},
		{name: "response_header", got: api.Timeouts.ResponseHeader.D(), want: 60 * time.Second},
		{name: "upstream idle", got: api.Timeouts.Idle.D(), want: 90 * time.Second},
		{name: "weight", got: api.Targets[0].Weight, want: 1},
		{name: "health type for http use", got: api.Health.Type, want: HealthHTTP},
		{name: "health type for tcp use", got: pg.Health.Type, want: HealthTCP},
		{name: "health path", got: api.Health.Path, want: "/"},
		{name: "expect_status", got: api.Health.ExpectStatus, want: "200-399"},
		{name: "health interval", got: pg.Health.Interval.D(), want: 10 * time.Second},
		{name: "health timeout", got: pg.Health.Timeout.D(), want: 2 * time.Second},
		{name: "health timeout under a short interval", got: api.Health.Timeout.D(), want: 500 * time.Millisecond},
		{name: "jitter is 10% of interval", got: pg.Health.Jitter.D(), want: time.Second},
		{name: "healthy_threshold", got: pg.Health.HealthyThreshold, want: 2},
		{name: "unhealthy_threshold", got: pg.Health.UnhealthyThreshold, want: 3},
		{name: "consecutive_failures", got: api.Outlier.ConsecutiveFailures, want: 5},
		{name: "base_ejection", got: api.Outlier.BaseEjection.D(), want: 30 * time.Second},
		{name: "max_ejection", got: api.Outlier.MaxEjection.D(), want: 5 * time.Minute},
		{name: "max_ejected_percent", got: api.Outlier.MaxEjectedPercent, want: 50},
		{name: "panic_threshold", got: api.Outlier.PanicThreshold, want: 50},
		{name: "retries attempts", got: *api.Retries.Attempts, want: 2},
		{name: "retries on", got: strings.Join(api.Retries.On, ","), want: "connect,502,503"},
		{name: "retries budget", got: api.Retries.BudgetPercent, want: 20},
		{name: "route inherits upstream retries", got: r.Retries == api.Retries, want: true},
		{name: "route retries replace the upstream's", got: *s.Retries.Attempts, want: 0},
		{name: "route retries get defaults", got: s.Retries.BudgetPercent, want: 20},
		{name: "route inherits connect", got: r.Timeouts.Connect.D(), want: 5 * time.Second},
		{name: "route overrides connect", got: s.Timeouts.Connect.D(), want: time.Second},
		{name: "route inherits response_header", got: s.Timeouts.ResponseHeader.D(), want: 60 * time.Second},
		{name: "max_body_bytes", got: r.Match.MaxBodyBytes, want: Size(64 << 10)},
		{name: "methods upper case", got: strings.Join(r.Match.Methods, ","), want: "GET,POST"},
		{name: "hosts lower case", got: strings.Join(r.Match.Hosts, ","), want: "api.example.com"},
		{name: "admin address", got: c.Admin.Address, want: "127.0.0.1:9901"},
		{name: "log level", got: c.Log.Level, want: "info"},
		{name: "log format", got: c.Log.Format, want: "text"},
		{name: "absent circuit_breaker stays nil", got: c.Upstreams["api"].CircuitBreaker == nil, want: true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if slices.Equal(api.Retries.On, DefaultRetryOn) && &api.Retries.On[0] == &DefaultRetryOn[0] {
		t.Errorf("retries.on shares DefaultRetryOn's array; a consumer could modify the default")
	}
}

func TestExplicitZeroKeptWhereMeaningful(t *testing.T) {
	t.Parallel()
	c := mustParse(t, strings.Replace(minimal, "  api:\n", `  api:
    health: {jitter: 0}
    outlier: {panic_threshold: 0}
    retries: {on: [], budget_percent: 0}
`, 1))
	api := c.Upstreams["api"]
	if api.Health.Jitter != 0 || api.Outlier.PanicThreshold != 0 || len(api.Retries.On) != 0 || api.Retries.BudgetPercent != 0 {
		t.Errorf("jitter %v panic %d on %v budget %d, want all zero as written",
			api.Health.Jitter.D(), api.Outlier.PanicThreshold, api.Retries.On, api.Retries.BudgetPercent)
	}
}
