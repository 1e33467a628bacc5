package balancer

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// NewTarget parses a configured target, "http://host:port", "https://host:port",
// "h2c://host:port" or plain "host:port" (tcp/udp upstreams), into a Target. A missing
// port of an http or https URL defaults to 80 or 443; a trailing "/" is allowed, any
// other path is not (targets are servers, routes own paths). weight 0 means 1. st is
// the target's shared State, carried over from a previous Set on reload; nil makes a
// fresh one (healthy, nothing in flight). Errors wrap ErrBadTarget.
func NewTarget(url string, weight int, st *State) (*Target, error) {
	if weight < 0 {
		return nil, fmt.Errorf("%w %q: weight %d is negative", ErrBadTarget, url, weight)
	}
	if weight == 0 {
		weight = 1
	}
	scheme, rest, hasScheme := strings.Cut(url, "://")
	if !hasScheme {
		scheme, rest = "", url
	}
	defPort := ""
	switch scheme {
	case "":
	case "http":
		defPort = "80"
	case "https":
		defPort = "443"
	case "h2c":
	default:
		return nil, fmt.Errorf("%w %q: scheme %q is not http, https or h2c", ErrBadTarget, url, scheme)
	}
	if hasScheme {
		rest = strings.TrimSuffix(rest, "/")
	}
	if strings.ContainsAny(rest, "/?#@ ") {
		return nil, fmt.Errorf("%w %q: want scheme://host:port without path, query or user", ErrBadTarget, url)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		if defPort == "" || strings.Count(rest, ":") > 0 && !strings.HasPrefix(rest, "[") {
			return nil, fmt.Errorf("%w %q: %w", ErrBadTarget, url, err)
		}
		host, port = strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]"), defPort
	}
	if host == "" {
		return nil, fmt.Errorf("%w %q: empty host", ErrBadTarget, url)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("%w %q: port %q is not 1-65535", ErrBadTarget, url, port)
	}
	if st == nil {
		st = new(State)
	}
	return &Target{URL: url, Scheme: scheme, Addr: net.JoinHostPort(host, port), Weight: weight, State: st}, nil
}
