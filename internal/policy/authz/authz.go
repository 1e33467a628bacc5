package authz

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/problem"
)

// Name is the policy's config name.
const Name = "authorize"

// Policy is a built authorize section.
type Policy struct {
	consumers  map[string]bool
	scopes     []string
	claims     []claimRule
	allowGroup map[string]bool
	denyGroup  map[string]bool

	denied        *policy.Answer
	noScope       *policy.Answer // for non-JWT consumers
	noScopeBearer *policy.Answer // with the RFC 6750 challenge
	unauth        *policy.Answer
}

type claimRule struct {
	name    string
	allowed []string
}

var _ policy.Policy = (*Policy)(nil)

// New builds the policy from a validated section.
func New(cfg *config.Authz) (*Policy, error) {
	p := &Policy{scopes: slices.Clone(cfg.Scopes)}
	if len(cfg.Consumers) > 0 {
		p.consumers = map[string]bool{}
		for _, c := range cfg.Consumers {
			p.consumers[c] = true
		}
	}
	for name, vals := range cfg.Claims {
		if len(vals) == 0 {
			return nil, config.FieldError(cfg.At, "claims", errNoValues)
		}
		p.claims = append(p.claims, claimRule{name: name, allowed: slices.Clone(vals)})
	}
	slices.SortFunc(p.claims, func(a, b claimRule) int { return strings.Compare(a.name, b.name) })
	if g := cfg.Groups; g != nil {
		if len(g.Allow) > 0 {
			p.allowGroup = set(g.Allow)
		}
		if len(g.Deny) > 0 {
			p.denyGroup = set(g.Deny)
		}
	}
	forbidden := func(detail string) *policy.Answer {
		return &policy.Answer{Status: problem.Forbidden.Status, Reason: problem.Forbidden.Reason, Detail: detail}
	}
	p.denied = forbidden("consumer not allowed on this route")
	p.noScope = forbidden("missing required scope")
	p.noScopeBearer = forbidden("missing required scope")
	p.noScopeBearer.Header = map[string]string{
		"WWW-Authenticate": `Bearer realm="` + config.DefaultRealm + `", error="insufficient_scope", scope="` + strings.Join(p.scopes, " ") + `"`,
	}
	p.unauth = &policy.Answer{Status: problem.Unauthorized.Status, Reason: problem.Unauthorized.Reason, Detail: "credentials missing"}
	return p, nil
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// Name returns "authorize".
func (p *Policy) Name() string { return Name }

// Apply refuses consumers that break any rule.
func (p *Policy) Apply(r *policy.Request) *policy.Answer {
	c := r.Consumer
	if c == nil {
		return p.unauth
	}
	if p.consumers != nil && !p.consumers[c.Name] {
		return p.denied
	}
	if p.denyGroup != nil {
		for _, g := range c.Groups {
			if p.denyGroup[g] {
				return p.denied
			}
		}
	}
	if p.allowGroup != nil && !slices.ContainsFunc(c.Groups, func(g string) bool { return p.allowGroup[g] }) {
		return p.denied
	}
	for _, s := range p.scopes {
		if !hasScope(c, s) {
			if c.Claims != nil {
				return p.noScopeBearer
			}
			return p.noScope
		}
	}
	for _, rule := range p.claims {
		if !claimMatches(policy.LookupClaim(c.Claims, rule.name), rule.allowed) {
			return p.denied
		}
	}
	return nil
}

// hasScope looks in the consumer's configured scopes, the "scope" claim and the "scp" claim.
func hasScope(c *policy.Consumer, want string) bool {
	if slices.Contains(c.Scopes, want) {
		return true
	}
	if c.Claims == nil {
		return false
	}
	for _, name := range [...]string{"scope", "scp"} {
		switch v := c.Claims[name].(type) {
		case string:
			for s := range strings.FieldsSeq(v) {
				if s == want {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && s == want {
					return true
				}
			}
		case []string:
			if slices.Contains(v, want) {
				return true
			}
		}
	}
	return false
}

// claimMatches: a scalar claim must equal an allowed value; an array claim must hold one.
// Numbers and booleans compare in their JSON text form ("42", "true").
func claimMatches(v any, allowed []string) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		for _, e := range x {
			if _, nested := e.([]any); !nested && claimMatches(e, allowed) {
				return true
			}
		}
		return false
	case []string:
		return slices.ContainsFunc(x, func(s string) bool { return slices.Contains(allowed, s) })
	case string:
		return slices.Contains(allowed, x)
	case json.Number:
		return slices.Contains(allowed, x.String())
	case float64:
		return slices.Contains(allowed, strconv.FormatFloat(x, 'f', -1, 64))
	case bool:
		return slices.Contains(allowed, strconv.FormatBool(x))
	}
	return false
}
