package h1

import "unsafe"

// b2s views b as a string without copying. The engine hands such strings to the
// Handler (Request.Path, Get, ...) to avoid an allocation per field per request; they
// alias the connection's read buffer, which is why the Handler must not keep them
// after Done (the buffer is reused for the next request). The bytes are never written
// while the string is live: views are only taken over a parsed head, which is frozen
// until the request ends.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// tchar marks the token characters of RFC 9110 section 5.6.2.
var tchar = [256]bool{}

func init() {
	for c := '0'; c <= '9'; c++ {
		tchar[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		tchar[c] = true
		tchar[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tchar[c] = true
	}
}

// isToken reports whether b is a non-empty token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// validValue reports whether b may be a field value (RFC 9110 section 5.5): VCHAR,
// obs-text, SP and HTAB; no CTL (CR, LF and NUL included).
func validValue(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validValueString is validValue for strings the Handler supplies.
func validValueString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validTokenString is isToken for strings.
func validTokenString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with an ASCII name case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (SP, HTAB) at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseDigits parses 1*DIGIT as a non-negative int64; false for anything else,
// including signs, spaces, commas, and values above 2^60 (no real body is that big,
// and the bound keeps every later addition overflow-free).
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= 1<<60
}

// nextToken splits the next element off a comma-separated list (RFC 9110 section
// 5.6.1), skipping empty elements; it returns the trimmed element and the rest.
func nextToken(b []byte) (tok, rest []byte) {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != ',' {
			i++
		}
		tok = trimOWS(b[:i])
		if i < len(b) {
			rest = b[i+1:]
		} else {
			rest = nil
		}
		if len(tok) > 0 {
			return tok, rest
		}
		b = rest
	}
	return nil, nil
}
