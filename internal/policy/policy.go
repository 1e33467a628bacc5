package policy

import (
	"crypto/tls"
	"net/netip"
	"strings"
)

// Header is the header view policies read and change. net/http's http.Header satisfies it.
type Header interface {
	Get(key string) string
	Values(key string) []string
	Set(key, value string)
	Add(key, value string)
	Del(key string)
}

// Consumer is an authenticated identity. A Consumer and everything it points to
// (Claims, Groups, Scopes, Meta) is read-only once an authenticator returns it: the
// auth policies share one value between all requests that present the same
// credential (API keys, client certificates, cached JWT verifications).
type Consumer struct {
	Name   string
	Groups []string
	// Claims are the verified JWT claims (nil for other methods).
	Claims map[string]any
	// Meta is the consumer's configured metadata.
	Meta map[string]string
	// Scopes are the consumer's configured scopes (authz adds a JWT's scope/scp claim).
	Scopes []string
}

// LookupClaim reads a claim, following dots into objects ("realm_access.roles") when
// no top-level claim has the dotted name; nil when absent.
func LookupClaim(claims map[string]any, name string) any {
	if claims == nil {
		return nil
	}
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// Request is the view of one request that policies act on. The caller owns it; a policy
// may set Consumer, change Header (the upstream request's headers) and add RespHeader.
type Request struct {
	Method   string
	Host     string // without port, lower case
	Path     string // normalised
	RawQuery string
	// Header is the request header as it will be sent upstream.
	Header Header
	// RespHeader collects headers to add to the response the client gets.
	RespHeader Header
	// Client is the client address after trusted-proxy resolution.
	Client netip.AddrPort
	// Peer is the address of the TCP peer (may differ from Client behind a trusted proxy).
	Peer netip.AddrPort
	TLS  *tls.ConnectionState
	// Route is the name of the matched route.
	Route string
	// Consumer is set by auth when a credential was accepted.
	Consumer *Consumer
	// ContentLength is the declared body length, -1 if unknown.
	ContentLength int64
	// LimitBody, when set by a policy, caps the body: the caller enforces it while
	// streaming and answers 413 when it is exceeded.
	LimitBody int64

	onDone []func(status int)
}

// OnDone registers f to run once the exchange finished, with the status sent to the client.
func (r *Request) OnDone(f func(status int)) { r.onDone = append(r.onDone, f) }

// Done runs the functions registered with OnDone, last registered first.
func (r *Request) Done(status int) {
	for i := len(r.onDone) - 1; i >= 0; i-- {
		r.onDone[i](status)
	}
	r.onDone = r.onDone[:0]
}

// Answer is an early response from a policy.
type Answer struct {
	// Status is the HTTP status.
	Status int
	// Reason is the stable problem reason ("unauthenticated", "rate_limited", ...).
	Reason string
	// Detail is client-safe text.
	Detail string
	// Header is added to the response (WWW-Authenticate, Retry-After, CORS headers, ...).
	Header map[string]string
	// NoBody asks for an empty body instead of problem+json (CORS preflight).
	NoBody bool
}

// Policy is one step of a route's chain.
type Policy interface {
	// Name is the policy's config name, used in metrics and explain.
	Name() string
	// Apply runs the policy; nil lets the request continue.
	Apply(r *Request) *Answer
}

// Order is a policy's fixed place in every chain.
type Order int

// The fixed order (STYLE.md): request ID/trace → observe → limits → ipfilter → cors →
// auth → authz → ratelimit → concurrency → transforms.
const (
	OrderRequestID Order = iota
	OrderObserve
	OrderLimits
	OrderIPFilter
	OrderCORS
	OrderAuth
	OrderAuthz
	OrderRateLimit
	OrderConcurrency
	OrderTransforms
)

// Step is a built policy with its place in the order.
type Step struct {
	Order  Order
	Policy Policy
}

// Chain is a route's policies in fixed order. The zero Chain runs nothing.
type Chain struct {
	steps []Policy
	names []string
}

// NewChain sorts steps by Order (stable) into a Chain.
func NewChain(steps []Step) Chain {
	s := append([]Step(nil), steps...)
	// insertion sort: chains are short and built once per snapshot
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Order < s[j-1].Order; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	c := Chain{}
	for _, st := range s {
		c.steps = append(c.steps, st.Policy)
		c.names = append(c.names, st.Policy.Name())
	}
	return c
}

// Apply runs the chain until a policy answers; it returns that answer or nil.
func (c Chain) Apply(r *Request) *Answer {
	for _, p := range c.steps {
		if a := p.Apply(r); a != nil {
			return a
		}
	}
	return nil
}

// Names lists the policies in the order they run (for explain and the admin API).
func (c Chain) Names() []string { return c.names }

// Len is the number of policies.
func (c Chain) Len() int { return len(c.steps) }
