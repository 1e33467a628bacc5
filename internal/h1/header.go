package h1

// Header is an edit list over a request's headers (Decision.Header) or a plain list of
// headers to add (Decision.RespHeader, which has no base). It satisfies policy.Header
// without maps: Del hides base fields by name, Set and Add append. The engine resets
// it per request, keeping its capacity, so steady-state use does not allocate. Names
// and values are validated when the engine writes them: a name that is not a token or
// a value with CR, LF or NUL fails the request with a 500 instead of reaching the wire.
type Header struct {
	base *Request
	del  []string
	kv   []string // name, value pairs
}

func (h *Header) reset(base *Request) {
	h.base, h.del, h.kv = base, h.del[:0], h.kv[:0]
}

// Len returns the number of added fields.
func (h *Header) Len() int { return len(h.kv) / 2 }

// At returns the i-th added field.
func (h *Header) At(i int) (name, value string) { return h.kv[2*i], h.kv[2*i+1] }

// Get returns the first added value for key, else the base's value unless deleted.
func (h *Header) Get(key string) string {
	for i := 0; i < len(h.kv); i += 2 {
		if equalFoldString(h.kv[i], key) {
			return h.kv[i+1]
		}
	}
	if h.base == nil || h.deleted(key) {
		return ""
	}
	return h.base.Get(key)
}

// Values returns the base's values (unless deleted) followed by the added ones. The
// slice comes from the base request's arena when there is one, else it is allocated.
func (h *Header) Values(key string) []string {
	var out []string
	if h.base != nil {
		start := len(h.base.vals)
		if !h.deleted(key) {
			h.base.Values(key)
		}
		for i := 0; i < len(h.kv); i += 2 {
			if equalFoldString(h.kv[i], key) {
				h.base.vals = append(h.base.vals, h.kv[i+1])
			}
		}
		if len(h.base.vals) == start {
			return nil
		}
		return h.base.vals[start:len(h.base.vals):len(h.base.vals)]
	}
	for i := 0; i < len(h.kv); i += 2 {
		if equalFoldString(h.kv[i], key) {
			out = append(out, h.kv[i+1])
		}
	}
	return out
}

// Set replaces every value of key with value.
func (h *Header) Set(key, value string) {
	h.Del(key)
	h.kv = append(h.kv, key, value)
}

// Add appends a field.
func (h *Header) Add(key, value string) { h.kv = append(h.kv, key, value) }

// Del removes every added field named key and hides the base's.
func (h *Header) Del(key string) {
	j := 0
	for i := 0; i < len(h.kv); i += 2 {
		if !equalFoldString(h.kv[i], key) {
			h.kv[j], h.kv[j+1] = h.kv[i], h.kv[i+1]
			j += 2
		}
	}
	h.kv = h.kv[:j]
	if h.base != nil && !h.deleted(key) {
		h.del = append(h.del, key)
	}
}

// deleted reports whether base fields named key are hidden.
func (h *Header) deleted(key string) bool {
	for _, d := range h.del {
		if equalFoldString(d, key) {
			return true
		}
	}
	return false
}

// hides reports whether a base field with this name is hidden.
func (h *Header) hides(name []byte) bool {
	for _, d := range h.del {
		if equalFold(name, d) {
			return true
		}
	}
	return false
}

func equalFoldString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}
