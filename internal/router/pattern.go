package router

import (
	"fmt"
	"strings"
)

type segKind uint8

// The kinds are ordered as they rank: where two patterns that match the same path first
// differ, the one with the lower kind wins (see doc.go, "Priority"). segEnd is the
// pattern having no more segments, which only ever competes with a tail.
const (
	segEnd segKind = iota
	segLit
	segParam
	segTail
)

type pseg struct {
	kind segKind
	text string // the literal, or the param name
}

// pattern is a parsed Match.Path: "/users/{id}/*" is [lit users] [param id] [tail].
type pattern struct {
	raw   string
	segs  []pseg
	names []string // param names in order
}

// parsePattern parses a Match.Path; "" means any path ("/*").
func parsePattern(p string) (*pattern, error) {
	if p == "" {
		p = "/*"
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("path %q: must start with \"/\": %w", p, ErrPattern)
	}
	pt := &pattern{raw: p}
	parts := strings.Split(p[1:], "/")
	// skeleton is the pattern with params as "x" and without the tail: its literal
	// parts must already be in normal form, or they could never equal a normalised path.
	var skeleton strings.Builder
	for i, s := range parts {
		switch {
		case s == "*":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("path %q: \"*\" must be the last segment: %w", p, ErrPattern)
			}
			pt.segs = append(pt.segs, pseg{kind: segTail})
			skeleton.WriteString("/")
			continue
		case len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}':
			name := s[1 : len(s)-1]
			if !isParamName(name) {
				return nil, fmt.Errorf("path %q: bad param name %q (letters, digits, _): %w", p, name, ErrPattern)
			}
			for _, n := range pt.names {
				if n == name {
					return nil, fmt.Errorf("path %q: param {%s} appears twice: %w", p, name, ErrPattern)
				}
			}
			if len(pt.names) == MaxParams {
				return nil, fmt.Errorf("path %q: more than %d params: %w", p, MaxParams, ErrPattern)
			}
			pt.names = append(pt.names, name)
			pt.segs = append(pt.segs, pseg{kind: segParam, text: name})
			skeleton.WriteString("/x")
			continue
		case strings.ContainsAny(s, "{}*"):
			return nil, fmt.Errorf("path %q: segment %q mixes literal text with {param} or *: %w", p, s, ErrPattern)
		}
		pt.segs = append(pt.segs, pseg{kind: segLit, text: s})
		skeleton.WriteString("/")
		skeleton.WriteString(s)
	}
	sk := skeleton.String()
	if clean, ok := NormalizePath(sk); !ok || clean != sk {
		return nil, fmt.Errorf("path %q: not in normal form (no \"//\", dot-segments or needless percent-encoding): %w", p, ErrPattern)
	}
	return pt, nil
}

func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (pt *pattern) hasTail() bool {
	return len(pt.segs) > 0 && pt.segs[len(pt.segs)-1].kind == segTail
}

// match matches path against the pattern alone, capturing params into vals. The trie
// does the same for all patterns at once; this one serves Explain (and tests check the
// two agree).
func (pt *pattern) match(path string, vals *[MaxParams]string) (n int, tail string, ok bool) {
	if path == "" || path[0] != '/' {
		return 0, "", false
	}
	rest := path
	for _, sg := range pt.segs {
		if sg.kind == segTail {
			if rest == "" {
				return n, "", true
			}
			return n, rest[1:], true
		}
		if rest == "" {
			return 0, "", false
		}
		seg, next := splitSeg(rest)
		switch sg.kind {
		case segLit:
			if seg != sg.text {
				return 0, "", false
			}
		case segParam:
			if seg == "" {
				return 0, "", false
			}
			vals[n] = seg
			n++
		}
		rest = next
	}
	if rest != "" {
		return 0, "", false
	}
	return n, "", true
}

// splitSeg splits rest ("/seg/more") into its first segment and what follows ("/more").
func splitSeg(rest string) (seg, next string) {
	seg = rest[1:]
	if j := strings.IndexByte(seg, '/'); j >= 0 {
		return seg[:j], seg[j:]
	}
	return seg, ""
}
