package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/gateway"
)

// cmdExplain explains offline which route, policies, upstream and target a request
// would get under a config file: exit 0 when a route matched, 1 when none did (or the
// config is invalid), 2 on bad usage.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", " [METHOD] URL", stderr)
	var path, listener, body string
	var headers stringList
	fs.StringVar(&path, "c", "gantry.yaml", "config file")
	fs.StringVar(&path, "config", "gantry.yaml", "config file (same as -c)")
	fs.StringVar(&listener, "listener", "", "http listener to explain on (default: the one whose port the URL names, or the only one)")
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	fs.StringVar(&body, "d", "", "request body (for body conditions); @FILE reads a file; implies POST without METHOD")
	asJSON := fs.Bool("json", false, "print the explanation as JSON (the admin API's format)")
	ip := fs.String("client-ip", "", "client address for ip_hash and consistent_hash on ip (default 127.0.0.1)")

	// Flags may come after the positional arguments (curl style: URL -H ...).
	var pos []string
	rest := args
	for {
		if code, done := parseFlags(fs, rest, stdout); done {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var method, url string
	switch len(pos) {
	case 1:
		url = pos[0]
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	case 2:
		method, url = pos[0], pos[1]
	default:
		fmt.Fprintln(stderr, "gantry explain: want [METHOD] URL, e.g. gantry explain -c gantry.yaml GET http://localhost:8080/api/x -H 'X-Canary: 1'")
		return exitUsage
	}
	req := gateway.ExplainRequest{Method: method, URL: url, Header: http.Header{}, ClientIP: *ip}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			fmt.Fprintf(stderr, "gantry explain: -H %q: want 'Name: value'\n", h)
			return exitUsage
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if file, ok := strings.CutPrefix(body, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(stderr, "gantry explain: -d:", err)
			return exitUsage
		}
		req.Body = b
	} else if body != "" {
		req.Body = []byte(body)
	}

	cfg, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return exitFailure
	}
	ex, err := gateway.ExplainConfig(cfg, listener, req)
	if err != nil {
		fmt.Fprintln(stderr, "gantry explain:", err)
		return exitUsage
	}
	if *asJSON {
		b, _ := json.MarshalIndent(ex, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printExplanation(stdout, ex)
	}
	if !ex.Matched {
		return exitFailure
	}
	return exitOK
}

// printExplanation renders an explanation for a terminal.
func printExplanation(w io.Writer, ex gateway.Explanation) {
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%-10s %s\n", k, fmt.Sprintf(format, args...)) }
	target := ex.Path
	if ex.Query != "" {
		target += "?" + ex.Query
	}
	row("request", "%s %s (host %q)", ex.Method, target, ex.Host)
	row("listener", "%s", ex.Listener)
	if ex.Path != ex.RawPath && ex.Path != "" {
		row("path", "%s (normalised from %s)", ex.Path, ex.RawPath)
	}
	if ex.Matched {
		row("route", "%s", ex.Route)
		if len(ex.Params) > 0 {
			var ps []string
			for _, k := range slices.Sorted(maps.Keys(ex.Params)) {
				ps = append(ps, k+"="+ex.Params[k])
			}
			row("params", "%s", strings.Join(ps, " "))
		}
		if len(ex.Policies) > 0 {
			row("policies", "%s (in this order)", strings.Join(ex.Policies, " -> "))
		} else {
			row("policies", "none")
		}
		switch {
		case ex.Target != "":
			row("upstream", "%s (%s) -> target %s", ex.Upstream, ex.Balance, ex.Target)
		default:
			row("upstream", "%s (%s): %s", ex.Upstream, ex.Balance, ex.TargetNote)
		}
		if ex.Rewrite != nil {
			row("forward", "%s %s (Host: %s)", ex.Method, ex.Rewrite.Path, ex.Rewrite.Host)
		}
	} else {
		answer := fmt.Sprintf("%d %s", ex.Status, ex.Problem)
		if ex.Allow != "" {
			answer += " (Allow: " + ex.Allow + ")"
		}
		row("route", "none: the gateway answers %s", answer)
	}
	if len(ex.Candidates) > 0 {
		fmt.Fprintln(w, "\nroutes (in config order; * chosen, ~ near miss):")
		width := 0
		for _, c := range ex.Candidates {
			width = max(width, len(c.Name))
		}
		for _, c := range ex.Candidates {
			mark := " "
			switch {
			case c.Winner:
				mark = "*"
			case c.NearMiss:
				mark = "~"
			}
			fmt.Fprintf(w, "  %s %-*s  %s\n", mark, width, c.Name, c.Detail)
		}
	}
	for _, n := range ex.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
