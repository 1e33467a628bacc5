package router

import (
	"fmt"
	"net/textproto"
	"regexp"
	"sort"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
)

type condKind uint8

const (
	condExact condKind = iota
	condRegex
	condPresent
	condAbsent
)

// cond is one compiled header, query or body condition.
type cond struct {
	name  string // canonical header name, query key, or body path as written ("$.a.b")
	kind  condKind
	value string
	re    *regexp.Regexp
	path  []string // body only: the keys of name
}

// compileConds compiles a condition map in name order, so that Explain's "first
// reason" is deterministic.
func compileConds(what string, m map[string]config.ValueMatch) ([]cond, error) {
	if len(m) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]cond, 0, len(names))
	for _, n := range names {
		c, err := compileCond(what, n, m[n])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func compileCond(what, name string, v config.ValueMatch) (cond, error) {
	c := cond{name: name}
	switch what {
	case "header":
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			return c, fmt.Errorf("header %q: bad name: %w", name, ErrCondition)
		}
		// http.Header.Get/Values canonicalise their argument; a key that already is
		// canonical goes through without allocating.
		c.name = textproto.CanonicalMIMEHeaderKey(name)
	case "query":
		if name == "" {
			return c, fmt.Errorf("query: empty parameter name: %w", ErrCondition)
		}
	case "body":
		p, err := parseBodyPath(name)
		if err != nil {
			return c, err
		}
		c.path = p
	}
	set := 0
	if v.Exact != nil {
		set++
		c.kind, c.value = condExact, *v.Exact
	}
	if v.Regex != "" {
		set++
		re, err := compileAnchored(v.Regex)
		if err != nil {
			return c, fmt.Errorf("%s %q: %w", what, name, err)
		}
		c.kind, c.re = condRegex, re
	}
	if v.Present != nil {
		set++
		c.kind = condAbsent
		if *v.Present {
			c.kind = condPresent
		}
	}
	if set != 1 {
		return c, fmt.Errorf("%s %q: want exactly one of exact, regex, present (got %d): %w", what, name, set, ErrCondition)
	}
	return c, nil
}

// compileAnchored compiles an RE2 regex that must match the whole value, as path_regex
// does; a user writing "v1" for a header most likely does not mean "xv10".
func compileAnchored(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("compiling %q: %w: %w", expr, ErrRegex, err)
	}
	return re, nil
}

// headerOK evaluates c against h. Exact and regex hold when any of the header's values
// (field lines) matches; a comma-joined line is one value.
func headerOK(h Header, c *cond) bool {
	var vals []string
	if h != nil {
		vals = h.Values(c.name)
	}
	switch c.kind {
	case condPresent:
		return len(vals) > 0
	case condAbsent:
		return len(vals) == 0
	case condExact:
		for _, v := range vals {
			if v == c.value {
				return true
			}
		}
	case condRegex:
		for _, v := range vals {
			if c.re.MatchString(v) {
				return true
			}
		}
	}
	return false
}
