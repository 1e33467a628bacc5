package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Body conditions look up one field of a JSON body by a simple path ("$.a.b": object
// keys only, no array indexes or filters). The body is first checked with json.Valid
// (no allocation in steady state), then scanned by hand for the field: decoding into
// a map would allocate the whole document per request to read one string.

// parseBodyPath splits "$.a.b" into ["a", "b"].
func parseBodyPath(s string) ([]string, error) {
	if !strings.HasPrefix(s, "$.") {
		return nil, fmt.Errorf("body %q: path must start with \"$.\": %w", s, ErrCondition)
	}
	parts := strings.Split(s[2:], ".")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "[]*") {
			return nil, fmt.Errorf("body %q: want object keys separated by \".\": %w", s, ErrCondition)
		}
	}
	return parts, nil
}

// bodyOK evaluates c against body, whose JSON validity the caller established once.
// No body condition holds on a missing or invalid body, not even present: false. A
// string field is compared decoded; a number, true, false or null by its JSON text
// ("42", "1.5e3", "true"); an object or array only satisfies present.
func bodyOK(body []byte, valid bool, c *cond) bool {
	if !valid {
		return false
	}
	val, found := jsonLookup(body, c.path)
	switch c.kind {
	case condPresent:
		return found
	case condAbsent:
		return !found
	}
	if !found || len(val) == 0 || val[0] == '{' || val[0] == '[' {
		return false
	}
	if val[0] == '"' {
		inner := val[1 : len(val)-1]
		if bytes.IndexByte(inner, '\\') >= 0 {
			var s string
			if json.Unmarshal(val, &s) != nil { // escapes are rare; decoding them allocates
				return false
			}
			inner = []byte(s)
		}
		val = inner
	}
	if c.kind == condExact {
		return string(val) == c.value
	}
	return c.re.Match(val)
}

// jsonLookup returns the raw bytes of the value at path in the valid JSON document b.
// An object holding a key of the path twice makes the lookup fail: JSON parsers differ
// on which duplicate wins, and the router must not route on a value the upstream does
// not see.
func jsonLookup(b []byte, path []string) ([]byte, bool) {
	i := skipWS(b, 0)
	for _, key := range path {
		if i >= len(b) || b[i] != '{' {
			return nil, false
		}
		i++
		found := -1
		for {
			i = skipWS(b, i)
			if i >= len(b) {
				return nil, false
			}
			if b[i] == '}' {
				break
			}
			if b[i] == ',' {
				i++
				continue
			}
			ke := skipString(b, i)
			if ke < 0 {
				return nil, false
			}
			match := keyEquals(b[i:ke], key)
			i = skipWS(b, ke)
			if i >= len(b) || b[i] != ':' {
				return nil, false
			}
			i = skipWS(b, i+1)
			if match {
				if found >= 0 {
					return nil, false
				}
				found = i
			}
			if i = skipValue(b, i); i < 0 {
				return nil, false
			}
		}
		if found < 0 {
			return nil, false
		}
		i = found
	}
	end := skipValue(b, i)
	if end < 0 {
		return nil, false
	}
	return b[i:end], true
}

// keyEquals compares a raw JSON string (with quotes) to key.
func keyEquals(raw []byte, key string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == key
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == key
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1. It counts
// brackets instead of recursing, so nesting depth costs no stack.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isWS(b[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// jsonValid is json.Valid, which draws its scanner from a pool: no allocation in
// steady state.
func jsonValid(b []byte) bool { return json.Valid(b) }
