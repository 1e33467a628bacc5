package proxy

import "unsafe"

// scratch is per-request memory for the header values the proxy builds. Header maps
// take []string values; backing them with a fixed array here, and building the few
// composed strings (X-Forwarded-For, Forwarded, Via) in a fixed buffer, lets the header
// rewrite run without allocating.
//
// Safety of the unsafe.String use: a scratch lives inside one request's call value,
// which is never pooled or reused, and every byte of buf is written once before a string
// is made over it and never again. A string pointing into the call keeps it alive, so
// the GC contract holds; the only rule is "never reset a scratch whose strings may still
// be referenced" (benchmarks reset it only after discarding the header).
type scratch struct {
	buf  [320]byte
	n    int
	vals [8]string
	nv   int
}

// one returns a one-element slice holding v. Its capacity is 1, so an append by anyone
// later copies instead of writing into the neighbouring slot.
func (s *scratch) one(v string) []string {
	if s.nv == len(s.vals) {
		return []string{v}
	}
	s.vals[s.nv] = v
	sl := s.vals[s.nv : s.nv+1 : s.nv+1]
	s.nv++
	return sl
}

// start returns an empty slice over the unused part of buf to append a value into.
func (s *scratch) start() []byte { return s.buf[s.n:s.n:len(s.buf)] }

// finish turns b (from start, possibly grown past buf by append) into a string. When b
// still lives in buf no copy is made and that part of buf is retired.
func (s *scratch) finish(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s.n < len(s.buf) && unsafe.SliceData(b) == &s.buf[s.n] {
		str := unsafe.String(&s.buf[s.n], len(b))
		s.n += len(b)
		return str
	}
	return string(b)
}

func (s *scratch) reset() { *s = scratch{} }
