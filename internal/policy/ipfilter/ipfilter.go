package ipfilter

import (
	"net/netip"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/problem"
)

// Name is the policy's config name.
const Name = "ip_filter"

// Filter is a built ip_filter section.
type Filter struct {
	allow, deny []netip.Prefix
}

var _ policy.Policy = (*Filter)(nil)

// New builds a Filter from a validated section; errors carry the config position.
func New(cfg *config.IPFilter) (*Filter, error) {
	f := &Filter{}
	var err error
	if f.allow, err = config.ParsePrefixes(cfg.Allow); err != nil {
		return nil, config.FieldError(cfg.At, "allow", err)
	}
	if f.deny, err = config.ParsePrefixes(cfg.Deny); err != nil {
		return nil, config.FieldError(cfg.At, "deny", err)
	}
	return f, nil
}

// Allowed reports whether a may pass. Invalid addresses never pass.
func (f *Filter) Allowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range f.deny {
		if p.Contains(a) {
			return false
		}
	}
	if len(f.allow) == 0 {
		return true
	}
	for _, p := range f.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Name returns "ip_filter".
func (f *Filter) Name() string { return Name }

// forbidden is shared: answers are read-only to callers.
var forbidden = &policy.Answer{Status: problem.Forbidden.Status, Reason: problem.Forbidden.Reason, Detail: "client address not allowed"}

// Apply answers 403 when the request's client address is not allowed.
func (f *Filter) Apply(r *policy.Request) *policy.Answer {
	if f.Allowed(r.Client.Addr()) {
		return nil
	}
	return forbidden
}
