package observe

import (
	"math/rand/v2"
)

// W3C Trace Context header names (https://www.w3.org/TR/trace-context/).
const (
	TraceparentHeader = "Traceparent"
	TracestateHeader  = "Tracestate"
)

// TraceID is a W3C trace id; all zeros is invalid.
type TraceID [16]byte

// SpanID is a W3C parent/span id; all zeros is invalid.
type SpanID [8]byte

// IsValid reports whether t is not all zeros.
func (t TraceID) IsValid() bool { return t != TraceID{} }

// IsValid reports whether s is not all zeros.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// AppendHex appends t as 32 lower-case hex digits.
func (t TraceID) AppendHex(b []byte) []byte { return appendHex(b, t[:]) }

// AppendHex appends s as 16 lower-case hex digits.
func (s SpanID) AppendHex(b []byte) []byte { return appendHex(b, s[:]) }

// String returns t in hex; it allocates, so hot paths use AppendHex.
func (t TraceID) String() string { return string(t.AppendHex(nil)) }

// String returns s in hex; it allocates, so hot paths use AppendHex.
func (s SpanID) String() string { return string(s.AppendHex(nil)) }

// FlagSampled is the sampled bit of trace-flags (W3C Trace Context §3.2.2.5.1).
const FlagSampled byte = 0x01

// TraceContext is one position in a trace: the trace, the span, its flags and the
// vendor tracestate carried along unchanged.
type TraceContext struct {
	TraceID TraceID
	SpanID  SpanID
	Flags   byte
	// State is the tracestate header as received when it was well-formed, else "".
	State string
}

// IsValid reports whether both ids are non-zero.
func (tc TraceContext) IsValid() bool { return tc.TraceID.IsValid() && tc.SpanID.IsValid() }

// Sampled reports whether the sampled flag is set.
func (tc TraceContext) Sampled() bool { return tc.Flags&FlagSampled != 0 }

// traceparentLen is the length of a version-00 traceparent: 2+1+32+1+16+1+2.
const traceparentLen = 55

// ParseTraceparent parses a traceparent header value. It accepts version 00 exactly
// (55 bytes) and, as §4.3 asks, a higher version by its first 55 bytes when followed by
// the end or a '-'; version ff, upper-case hex, all-zero ids and wrong lengths are
// rejected. It does not allocate. A false result means: start a new trace.
//
// Hand-written rather than using the OTel propagator so that it runs, allocation-free,
// whether or not tracing is configured.
func ParseTraceparent(s string) (tc TraceContext, ok bool) {
	if len(s) < traceparentLen {
		return tc, false
	}
	ver, ok1 := hexByte(s[0], s[1])
	if !ok1 || ver == 0xff {
		return tc, false
	}
	if ver == 0 && len(s) != traceparentLen {
		return tc, false
	}
	if ver > 0 && len(s) > traceparentLen && s[traceparentLen] != '-' {
		return tc, false
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return tc, false
	}
	for i := range tc.TraceID {
		b, ok := hexByte(s[3+2*i], s[4+2*i])
		if !ok {
			return TraceContext{}, false
		}
		tc.TraceID[i] = b
	}
	for i := range tc.SpanID {
		b, ok := hexByte(s[36+2*i], s[37+2*i])
		if !ok {
			return TraceContext{}, false
		}
		tc.SpanID[i] = b
	}
	flags, ok1 := hexByte(s[53], s[54])
	if !ok1 || !tc.IsValid() {
		return TraceContext{}, false
	}
	if ver > 0 {
		// Unknown bits of a future version are not ours to forward (§4.3).
		flags &= FlagSampled
	}
	tc.Flags = flags
	return tc, true
}

// AppendTraceparent appends the version-00 traceparent of tc.
func (tc TraceContext) AppendTraceparent(b []byte) []byte {
	b = append(b, '0', '0', '-')
	b = tc.TraceID.AppendHex(b)
	b = append(b, '-')
	b = tc.SpanID.AppendHex(b)
	return append(b, '-', hexDigits[tc.Flags>>4], hexDigits[tc.Flags&0xf])
}

// Traceparent returns the version-00 traceparent of tc (one allocation).
func (tc TraceContext) Traceparent() string {
	var buf [traceparentLen]byte
	return string(tc.AppendTraceparent(buf[:0]))
}

// maxTracestateLen: §3.3.1.5 asks to propagate at least 512 bytes; longer values are
// dropped rather than truncated, since cutting list members needs vendor knowledge.
const maxTracestateLen = 512

// ValidTracestate reports whether s is a well-formed tracestate list (§3.3): at most 32
// comma-separated key=value members (empty members allowed), keys of [a-z0-9_*/@-]
// starting with a letter or digit, values of printable ASCII without ',' and '=' that
// do not end in a space, at most 512 bytes in all. It does not allocate.
func ValidTracestate(s string) bool {
	if len(s) > maxTracestateLen {
		return false
	}
	members := 0
	for len(s) > 0 {
		var m string
		if i := indexByte(s, ','); i >= 0 {
			m, s = s[:i], s[i+1:]
		} else {
			m, s = s, ""
		}
		m = trimOWS(m)
		if m == "" {
			continue
		}
		members++
		if members > 32 || !validTracestateMember(m) {
			return false
		}
	}
	return true
}

func validTracestateMember(m string) bool {
	eq := indexByte(m, '=')
	if eq < 1 || eq > 256 || eq == len(m)-1 || len(m)-eq-1 > 256 {
		return false
	}
	key, val := m[:eq], m[eq+1:]
	if c := key[0]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
		return false
	}
	ats := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '*', c == '/':
		case c == '@':
			ats++
		default:
			return false
		}
	}
	if ats > 1 {
		return false
	}
	for i := 0; i < len(val); i++ {
		if c := val[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return val[len(val)-1] != ' '
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// hexByte decodes two lower-case hex digits; §3.2.2 allows no upper case.
func hexByte(hi, lo byte) (byte, bool) {
	h, l := unhexTab[hi], unhexTab[lo]
	return h<<4 | l, h|l < 0x10
}

// unhexTab maps a lower-case hex digit to its value and every other byte to 0xff.
var unhexTab = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

func appendHex(b, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// newTraceID returns a random non-zero trace id.
func newTraceID() (t TraceID) {
	for !t.IsValid() {
		putUint64(t[:8], rand.Uint64())
		putUint64(t[8:], rand.Uint64())
	}
	return t
}

// newSpanID returns a random non-zero span id.
func newSpanID() (s SpanID) {
	for !s.IsValid() {
		putUint64(s[:], rand.Uint64())
	}
	return s
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}
