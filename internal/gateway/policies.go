package gateway

import (
	"net/http"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/policy/auth"
	"github.com/gantrygw/gantry/internal/policy/authz"
	"github.com/gantrygw/gantry/internal/policy/cors"
	"github.com/gantrygw/gantry/internal/policy/ipfilter"
	"github.com/gantrygw/gantry/internal/policy/limits"
)

// jwksClient fetches JWK Sets for every auth policy; its own transport keeps IdP
// connections apart from upstream pools.
var jwksClient = &http.Client{Timeout: 10 * time.Second}

// buildPolicies builds a route's policy steps from its config sections: the name →
// constructor table, written out. internal/policy fixes their order; this table only
// says which sections exist. It also returns what must be closed when the route retires.
func (g *Gateway) buildPolicies(cfg *config.Config, rc *config.Route) ([]policy.Step, []func(), error) {
	var steps []policy.Step
	var closers []func()
	add := func(o policy.Order, p policy.Policy) { steps = append(steps, policy.Step{Order: o, Policy: p}) }
	if rc.Limits != nil {
		p, err := limits.New(rc.Limits)
		if err != nil {
			return nil, nil, err
		}
		add(policy.OrderLimits, p)
	}
	if rc.IPFilter != nil {
		p, err := ipfilter.New(rc.IPFilter)
		if err != nil {
			return nil, nil, err
		}
		add(policy.OrderIPFilter, p)
	}
	if rc.CORS != nil {
		p, err := cors.New(rc.CORS)
		if err != nil {
			return nil, nil, err
		}
		add(policy.OrderCORS, p)
	}
	if rc.Auth != nil {
		p, err := auth.New(rc.Auth, cfg.Consumers, auth.Options{
			Client:         jwksClient,
			Logger:         g.log.With("route", rc.Name),
			ConsumerHeader: cfg.Security.ConsumerHeader,
			OnResult:       g.authResult(rc.Name, rc.Upstream),
		})
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, p.Close)
		add(policy.OrderAuth, p)
	}
	if rc.Authz != nil {
		p, err := authz.New(rc.Authz)
		if err != nil {
			for _, c := range closers {
				c()
			}
			return nil, nil, err
		}
		add(policy.OrderAuthz, p)
	}
	return steps, closers, nil
}

// authResult returns the hook auth calls with each verdict: failures are counted by
// reason (gantry_auth_failures_total).
func (g *Gateway) authResult(route, upstream string) func(auth.Method, auth.Reason) {
	rm := g.metrics.Route(route, upstream)
	return func(_ auth.Method, r auth.Reason) {
		if r != auth.ReasonNone {
			rm.AuthFailure(r.String())
		}
	}
}
