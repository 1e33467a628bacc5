package router

import (
	"fmt"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
)

// rewrite is a compiled config.Rewrite path change: either a prefix to strip or a
// template; Host is the proxy's business.
type rewrite struct {
	strip string // without trailing slash; "" when the template is used
	parts []rwPart
	size  int // template literal bytes, to size the builder
}

// rwPart is a literal (param == rwLit), a param index, or the tail (param == rwTail).
type rwPart struct {
	lit   string
	param int
}

const (
	rwLit  = -1
	rwTail = -2
)

// compileRewrite compiles rw for a route with pattern pt (nil for path_regex routes,
// which have no params). It returns nil when rw changes nothing about the path.
func compileRewrite(rw *config.Rewrite, pt *pattern) (*rewrite, error) {
	if rw == nil {
		return nil, nil
	}
	switch {
	case rw.StripPrefix != "" && rw.Path != "":
		return nil, fmt.Errorf("rewrite: strip_prefix and path are exclusive: %w", ErrRewrite)
	case rw.StripPrefix != "":
		if rw.StripPrefix[0] != '/' {
			return nil, fmt.Errorf("rewrite: strip_prefix %q must start with \"/\": %w", rw.StripPrefix, ErrRewrite)
		}
		p := strings.TrimRight(rw.StripPrefix, "/")
		if p == "" {
			return nil, nil // "/" strips nothing
		}
		return &rewrite{strip: p}, nil
	case rw.Path == "":
		return nil, nil
	case rw.Path[0] != '/':
		return nil, fmt.Errorf("rewrite: path %q must start with \"/\": %w", rw.Path, ErrRewrite)
	}
	out := &rewrite{}
	t := rw.Path
	for t != "" {
		open := strings.IndexAny(t, "{}")
		if open < 0 {
			out.parts = append(out.parts, rwPart{lit: t, param: rwLit})
			out.size += len(t)
			break
		}
		if t[open] == '}' {
			return nil, fmt.Errorf("rewrite: path %q: \"}\" without \"{\": %w", rw.Path, ErrRewrite)
		}
		if open > 0 {
			out.parts = append(out.parts, rwPart{lit: t[:open], param: rwLit})
			out.size += len(t[:open])
		}
		end := strings.IndexByte(t[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("rewrite: path %q: unclosed \"{\": %w", rw.Path, ErrRewrite)
		}
		name := t[open+1 : open+end]
		t = t[open+end+1:]
		if name == "*" {
			if pt == nil || !pt.hasTail() {
				return nil, fmt.Errorf("rewrite: path %q uses {*} but match.path has no \"*\" tail: %w", rw.Path, ErrRewrite)
			}
			out.parts = append(out.parts, rwPart{param: rwTail})
			continue
		}
		idx := -1
		if pt != nil {
			for i, n := range pt.names {
				if n == name {
					idx = i
				}
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("rewrite: path %q uses {%s}, which match.path does not capture: %w", rw.Path, name, ErrRewrite)
		}
		out.parts = append(out.parts, rwPart{param: idx})
	}
	return out, nil
}

// Rewrite returns the path to send upstream for route i given the matched params
// (strip_prefix, path template); it returns path unchanged when the route has no rewrite
// or i is out of range. strip_prefix allocates nothing (the result is a substring); a
// template allocates the new path once.
func (r *Router) Rewrite(i int, path string, p *Params) string {
	if r == nil || i < 0 || i >= len(r.entries) || r.entries[i].rw == nil {
		return path
	}
	rw := r.entries[i].rw
	if rw.strip != "" {
		return stripPrefix(path, rw.strip)
	}
	var empty Params
	if p == nil {
		p = &empty
	}
	n := rw.size
	for _, part := range rw.parts {
		switch {
		case part.param == rwTail:
			n += len(p.Tail)
		case part.param >= 0:
			n += len(p.Values[part.param])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, part := range rw.parts {
		switch {
		case part.param == rwLit:
			b.WriteString(part.lit)
		case part.param == rwTail:
			b.WriteString(p.Tail)
		default:
			b.WriteString(p.Values[part.param])
		}
	}
	return b.String()
}

// stripPrefix removes prefix from path at a segment boundary: "/api" turns "/api/x"
// into "/x" and "/api" into "/", and leaves "/apix" alone.
func stripPrefix(path, prefix string) string {
	if !strings.HasPrefix(path, prefix) {
		return path
	}
	switch {
	case len(path) == len(prefix):
		return "/"
	case path[len(prefix)] == '/':
		return path[len(prefix):]
	}
	return path
}
