package config

import (
	"fmt"
	"slices"
	"strings"
)

// MaxPathParams is the most {name} segments one match.path may hold (router.MaxParams).
const MaxPathParams = 8

// pathPattern is what validation learns from a match.path.
type pathPattern struct {
	params []string // {name} segments in order
	tail   bool     // ends in "/*"
}

// parsePathPattern checks match.path syntax: "/"-rooted; segments are literals, {name}
// (a whole segment, name an identifier, unique, at most MaxPathParams) or a final "*".
func parsePathPattern(p string) (pathPattern, error) {
	var pp pathPattern
	if !strings.HasPrefix(p, "/") {
		return pp, fmt.Errorf("path %q must start with \"/\"", p)
	}
	if strings.ContainsAny(p, "?#") {
		return pp, fmt.Errorf("path %q may not contain ? or # (match query parameters with match.query)", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "":
			if !last {
				return pp, fmt.Errorf("path %q has an empty segment (//)", p)
			}
			// A trailing slash ("/api/") is an exact path of its own.
		case seg == "*":
			if !last {
				return pp, fmt.Errorf("path %q: * is only allowed as the last segment (\"/api/*\")", p)
			}
			pp.tail = true
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			name := seg[1 : len(seg)-1]
			switch {
			case name == "":
				return pp, fmt.Errorf("path %q has an empty parameter {}", p)
			case name == "*":
				return pp, fmt.Errorf("path %q: write the tail wildcard as * (not {*})", p)
			case !isIdent(name):
				return pp, fmt.Errorf("path %q: parameter name %q must be letters, digits and _, not starting with a digit", p, name)
			case slices.Contains(pp.params, name):
				return pp, fmt.Errorf("path %q uses parameter {%s} twice", p, name)
			}
			pp.params = append(pp.params, name)
			if len(pp.params) > MaxPathParams {
				return pp, fmt.Errorf("path %q has more than %d parameters", p, MaxPathParams)
			}
		case strings.ContainsAny(seg, "{}"):
			return pp, fmt.Errorf("path %q: a {param} must be a whole segment (got %q)", p, seg)
		case strings.Contains(seg, "*"):
			return pp, fmt.Errorf("path %q: * is only allowed as a whole last segment (got %q)", p, seg)
		}
	}
	return pp, nil
}

// checkRewritePath checks that a rewrite.path template only uses {name} params that
// match.path defines, and {*} only when match.path ends in *.
func checkRewritePath(tmpl string, pp pathPattern, hasPath bool) error {
	if !strings.HasPrefix(tmpl, "/") {
		return fmt.Errorf("rewrite path %q must start with \"/\"", tmpl)
	}
	rest := tmpl
	for {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			return nil
		}
		if rest[open] == '}' {
			return fmt.Errorf("rewrite path %q has a } without {", tmpl)
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return fmt.Errorf("rewrite path %q has an unclosed {", tmpl)
		}
		name := rest[open+1 : open+end]
		switch {
		case name == "*":
			if !pp.tail {
				return fmt.Errorf("rewrite path %q uses {*}, but match.path does not end in *", tmpl)
			}
		case name == "":
			return fmt.Errorf("rewrite path %q has an empty parameter {}", tmpl)
		case !hasPath:
			return fmt.Errorf("rewrite path %q uses {%s}, but the route has no match.path to define it", tmpl, name)
		case !slices.Contains(pp.params, name):
			defined := "none"
			if len(pp.params) > 0 {
				defined = strings.Join(pp.params, ", ")
			}
			return fmt.Errorf("rewrite path %q uses {%s}, which match.path does not define (defined: %s)", tmpl, name, defined)
		}
		rest = rest[open+end+1:]
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
