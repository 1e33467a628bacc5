package balancer

import (
	"fmt"
	"strings"
)

// Hash-key kinds of upstreams.NAME.hash_key.
const (
	KeyHeader = "header" // a request header, "header:X-User"
	KeyCookie = "cookie" // a cookie, "cookie:session"
	KeyQuery  = "query"  // a query parameter, "query:tenant"
	KeyIP     = "ip"     // the client IP
	KeyPath   = "path"   // the request path
)

// Key says where the consistent_hash key comes from. The proxy extracts it from the
// request and passes the value as Info.Key.
type Key struct {
	// Kind is one of KeyHeader, KeyCookie, KeyQuery, KeyIP, KeyPath.
	Kind string
	// Name is the header, cookie or query parameter name; "" for ip and path.
	Name string
}

// String renders the spec form, "header:X-User" or "ip".
func (k Key) String() string {
	if k.Name == "" {
		return k.Kind
	}
	return k.Kind + ":" + k.Name
}

// ParseKey parses a hash_key spec: "header:NAME", "cookie:NAME", "query:NAME", "ip" or
// "path". Errors wrap ErrBadKey.
func ParseKey(spec string) (Key, error) {
	kind, name, hasName := strings.Cut(strings.TrimSpace(spec), ":")
	switch kind {
	case KeyHeader, KeyCookie, KeyQuery:
		name = strings.TrimSpace(name)
		if name == "" {
			return Key{}, fmt.Errorf("%w %q: %s needs a name, as in %q", ErrBadKey, spec, kind, kind+":NAME")
		}
		return Key{Kind: kind, Name: name}, nil
	case KeyIP, KeyPath:
		if hasName {
			return Key{}, fmt.Errorf("%w %q: %s takes no name", ErrBadKey, spec, kind)
		}
		return Key{Kind: kind}, nil
	}
	return Key{}, fmt.Errorf("%w %q (want header:NAME, cookie:NAME, query:NAME, ip or path)", ErrBadKey, spec)
}
