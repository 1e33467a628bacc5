package router

import (
	"net/url"
	"strings"
)

// queryOK evaluates c against a raw query string by scanning it: url.ParseQuery would
// allocate a map per request for what is usually one key. Keys and values are compared
// in decoded form (percent-encoding and "+" as space, as url.ParseQuery decodes them);
// a pair with a malformed encoding never matches. Exact and regex hold when any
// occurrence of the key matches; present holds for "?k", "?k=" and "?k=v".
func queryOK(raw string, c *cond) bool {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if !encodedEquals(k, c.name) {
			continue
		}
		switch c.kind {
		case condPresent:
			return true
		case condAbsent:
			return false
		case condExact:
			if encodedEquals(v, c.value) {
				return true
			}
		case condRegex:
			if !strings.ContainsAny(v, "%+") {
				if c.re.MatchString(v) {
					return true
				}
			} else if u, err := url.QueryUnescape(v); err == nil && c.re.MatchString(u) {
				return true // decoding allocates; only for encoded values
			}
		}
	}
	return c.kind == condAbsent
}

// encodedEquals reports whether the query-encoded enc decodes to want, without
// allocating.
func encodedEquals(enc, want string) bool {
	j := 0
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(enc) || !isHex(enc[i+1]) || !isHex(enc[i+2]) {
				return false
			}
			c = unhex(enc[i+1])<<4 | unhex(enc[i+2])
			i += 2
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}
