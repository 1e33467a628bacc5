package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gantrygw/gantry/internal/config"
)

// proxyFlags is the no-config quick mode. It is turned into a config (YAML text) and
// goes through the same parser, defaults and validation as a file, so quick mode and
// config files can never drift apart.
type proxyFlags struct {
	listen         string
	to             stringList
	balance        string
	hashKey        string
	timeout        time.Duration
	healthPath     string
	healthInterval time.Duration
	retries        int
	tcp            bool
}

func cmdProxy(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proxy", "", stderr)
	var pf proxyFlags
	fs.StringVar(&pf.listen, "listen", "127.0.0.1:8080", "address to listen on (HTTP/1.1 and h2c, or TCP with --tcp)")
	fs.Var(&pf.to, "to", "upstream target URL, e.g. http://127.0.0.1:9001 (repeatable; host:port with --tcp)")
	fs.StringVar(&pf.balance, "balance", "round_robin", "balancing algorithm (see docs/load-balancing.md)")
	fs.StringVar(&pf.hashKey, "hash-key", "", "consistent_hash key: header:NAME, cookie:NAME, query:NAME, ip or path")
	fs.DurationVar(&pf.timeout, "timeout", 0, "upstream response header timeout (default 60s)")
	fs.StringVar(&pf.healthPath, "health-path", "", "enable active HTTP health checks on this path")
	fs.DurationVar(&pf.healthInterval, "health-interval", 0, "active health check interval (default 10s; enables tcp checks with --tcp)")
	fs.IntVar(&pf.retries, "retries", -1, "retries on another target after a failed try (default 2; 0 disables)")
	fs.BoolVar(&pf.tcp, "tcp", false, "layer-4 mode: proxy raw TCP connections")
	var lf logFlags
	lf.register(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if len(pf.to) == 0 {
		fmt.Fprintln(stderr, "gantry proxy: at least one --to is required")
		fs.Usage()
		return exitUsage
	}
	cfg, err := config.Parse("gantry proxy flags", []byte(pf.yaml()))
	if err != nil {
		fmt.Fprintln(stderr, "gantry proxy: invalid flags:")
		printConfigError(stderr, err)
		return exitUsage
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gantry:", err)
		return exitUsage
	}
	return serve(serveOptions{cfg: cfg, log: log})
}

// yaml renders the flags as a config file. Values are written as JSON-style quoted
// strings, which YAML reads verbatim, so no flag value can inject YAML structure.
func (pf *proxyFlags) yaml() string {
	var b strings.Builder
	q := strconv.Quote
	proto := "http"
	if pf.tcp {
		proto = "tcp"
	}
	fmt.Fprintf(&b, "listeners:\n  proxy:\n    address: %s\n    protocol: %s\n", q(pf.listen), proto)
	if pf.tcp {
		b.WriteString("    upstream: targets\n")
	}
	fmt.Fprintf(&b, "upstreams:\n  targets:\n    balance: %s\n", q(pf.balance))
	if pf.hashKey != "" {
		fmt.Fprintf(&b, "    hash_key: %s\n", q(pf.hashKey))
	}
	b.WriteString("    targets:\n")
	for _, t := range pf.to {
		if !pf.tcp && !strings.Contains(t, "://") {
			t = "http://" + t
		}
		fmt.Fprintf(&b, "      - %s\n", q(t))
	}
	if pf.timeout > 0 {
		fmt.Fprintf(&b, "    timeouts:\n      response_header: %s\n", q(pf.timeout.String()))
	}
	if pf.healthPath != "" || pf.healthInterval > 0 {
		b.WriteString("    health:\n")
		if pf.tcp {
			b.WriteString("      type: tcp\n")
		} else if pf.healthPath != "" {
			fmt.Fprintf(&b, "      path: %s\n", q(pf.healthPath))
		}
		if pf.healthInterval > 0 {
			fmt.Fprintf(&b, "      interval: %s\n", q(pf.healthInterval.String()))
			if pf.healthInterval <= 2*time.Second {
				fmt.Fprintf(&b, "      timeout: %s\n", q((pf.healthInterval / 2).String()))
			}
		}
	}
	if pf.retries >= 0 {
		fmt.Fprintf(&b, "    retries:\n      attempts: %d\n", pf.retries)
	}
	if !pf.tcp {
		b.WriteString("routes:\n  - name: all\n    upstream: targets\n")
	}
	return b.String()
}
