package config

// HealthCheck configures active health checks of an upstream's targets.
type HealthCheck struct {
	At `yaml:"-"`
	// Type is http (default for http upstreams), tcp (default for tcp/udp listeners) or grpc.
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
	// Timeout of one check; default 2s.
	Timeout Duration `yaml:"timeout"`
	// Jitter adds up to this much random delay to each interval; default 10% of Interval.
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
	// PanicThreshold: when fewer than this percent of targets are healthy, balance over all; default 50.
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
	// BudgetPercent caps retries at this share of requests over a 10s window; default 20.
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
