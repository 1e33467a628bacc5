package l4

import (
	"strings"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

// Picker picks a target for one connection or UDP session; *balancer.Set is the
// production implementation. Pick excludes info.Tried and returns balancer.ErrNoTarget
// when nothing is left.
type Picker interface {
	Pick(info *balancer.Info) (*balancer.Target, error)
}

var _ Picker = (*balancer.Set)(nil)

// DefaultConnectTimeout bounds a dial when Route.ConnectTimeout is 0 (the config default).
const DefaultConnectTimeout = 5 * time.Second

// Route is where a connection goes: one upstream's picker plus how to open the
// upstream side. A Route is read-only once handed to SetTable.
type Route struct {
	// Upstream names the pool, for logs and SessionInfo.
	Upstream string
	// Picker chooses the target; required.
	Picker Picker
	// ProxyProtocol is "" (none), "v1" or "v2": the header written to the target
	// before any client byte (tcp only).
	ProxyProtocol string
	// ConnectTimeout bounds each dial; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// Table routes the connections of one listener. SNI keys are exact server names or
// one leading wildcard label ("*.example.com" matches "a.example.com", not
// "example.com" nor "a.b.example.com"), compared case-insensitively; an exact key wins
// over a wildcard. A connection whose ClientHello has no server name or no matching key,
// or that is not TLS, takes Default; with Default nil it is closed. SNI is ignored by
// the UDP server. A Table is read-only once handed to SetTable.
type Table struct {
	Default *Route
	SNI     map[string]*Route
}

// table is a Table compiled for lookups without allocation.
type table struct {
	def   *Route
	exact map[string]*Route // lower-case name
	wild  map[string]*Route // lower-case suffix including the dot: ".example.com"
}

func compile(t *Table) *table {
	c := &table{}
	if t == nil {
		return c
	}
	c.def = t.Default
	for k, r := range t.SNI {
		k = strings.ToLower(k)
		if suffix, ok := strings.CutPrefix(k, "*"); ok && strings.HasPrefix(suffix, ".") {
			if c.wild == nil {
				c.wild = map[string]*Route{}
			}
			c.wild[suffix] = r
			continue
		}
		if c.exact == nil {
			c.exact = map[string]*Route{}
		}
		c.exact[k] = r
	}
	return c
}

// sni reports whether connections must be peeked for a ClientHello.
func (t *table) sni() bool { return len(t.exact)+len(t.wild) > 0 }

// maxServerName is the longest DNS name (RFC 1035 section 2.3.4).
const maxServerName = 253

// lookup returns the route for a server name, or Default. The name is lower-cased
// into a stack buffer; map lookups keyed by string(bytes) do not allocate.
func (t *table) lookup(name []byte) *Route {
	if len(name) == 0 || len(name) > maxServerName {
		return t.def
	}
	var buf [maxServerName]byte
	b := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if r, ok := t.exact[string(b)]; ok {
		return r
	}
	for i, c := range b {
		if c == '.' {
			if i == 0 {
				break
			}
			if r, ok := t.wild[string(b[i:])]; ok {
				return r
			}
			break
		}
	}
	return t.def
}
