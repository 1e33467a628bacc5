package observe

import (
	"math/rand/v2"
)

// RequestIDHeader is the header a request ID travels in, towards the upstream and back
// to the client.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds an accepted incoming request ID.
const MaxRequestIDLen = 128

const hexDigits = "0123456789abcdef"

// NewRequestID returns 32 lower-case hex digits (128 random bits). It is safe for
// concurrent use and costs one 32-byte allocation.
//
// The bits come from math/rand/v2's top-level source: the runtime's per-thread ChaCha8
// generator, seeded from the OS, so IDs are unpredictable enough for correlation and
// need no lock. Request IDs are not secrets; crypto/rand would add a few hundred ns per
// request for nothing (see BenchmarkRequestID).
func NewRequestID() string {
	var b [32]byte
	putHex64(b[:16], rand.Uint64())
	putHex64(b[16:], rand.Uint64())
	return string(b[:])
}

// putHex64 writes v as 16 hex digits into dst[:16].
func putHex64(dst []byte, v uint64) {
	_ = dst[15]
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// ValidRequestID reports whether an incoming request ID may be kept: 1 to 128 bytes of
// [A-Za-z0-9._-]. Anything else (empty, long, spaces, quotes, non-ASCII) is replaced so
// that IDs are safe to log, to put in headers and to use as metric exemplars.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChar[id[i]] {
			return false
		}
	}
	return true
}

// RequestID returns incoming when it is valid, else a new ID.
func RequestID(incoming string) string {
	if ValidRequestID(incoming) {
		return incoming
	}
	return NewRequestID()
}

var idChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	t['.'], t['_'], t['-'] = true, true, true
	return t
}()
