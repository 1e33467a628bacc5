package cors

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/problem"
)

// Name is the policy's config name.
const Name = "cors"

// Policy is a built cors section.
type Policy struct {
	anyOrigin   bool
	exact       []string
	wild        []wildcard
	methods     []string
	methodsList string
	headers     map[string]bool // lower-case
	anyHeader   bool
	expose      string
	credentials bool
	maxAge      string
}

// wildcard is "scheme://*.suffix[:port]" split around the star.
type wildcard struct {
	prefix string // "https://"
	suffix string // ".example.com" or ".example.com:8443"
}

var _ policy.Policy = (*Policy)(nil)

// New builds the policy from a validated (and defaulted) section.
func New(cfg *config.CORS) (*Policy, error) {
	p := &Policy{
		credentials: cfg.Credentials,
		headers:     map[string]bool{},
		maxAge:      strconv.FormatInt(int64(cfg.MaxAge.D().Seconds()), 10),
	}
	for _, o := range cfg.Origins {
		switch {
		case o == "*":
			if cfg.Credentials {
				return nil, config.FieldError(cfg.At, "origins", errStarWithCredentials)
			}
			p.anyOrigin = true
		case strings.Contains(o, "://*."):
			if err := config.CheckOrigin(o); err != nil {
				return nil, config.FieldError(cfg.At, "origins", err)
			}
			i := strings.Index(o, "*")
			p.wild = append(p.wild, wildcard{prefix: o[:i], suffix: o[i+1:]})
		default:
			if err := config.CheckOrigin(o); err != nil {
				return nil, config.FieldError(cfg.At, "origins", err)
			}
			p.exact = append(p.exact, o)
		}
	}
	p.methods = cfg.Methods
	if len(p.methods) == 0 {
		p.methods = config.DefaultCORSMethods
	}
	p.methodsList = strings.Join(p.methods, ", ")
	for _, h := range cfg.Headers {
		if h == "*" {
			p.anyHeader = true
			continue
		}
		p.headers[strings.ToLower(h)] = true
	}
	p.expose = strings.Join(cfg.Expose, ", ")
	return p, nil
}

// Name returns "cors".
func (p *Policy) Name() string { return Name }

// Apply answers preflights and decorates cross-origin responses.
func (p *Policy) Apply(r *policy.Request) *policy.Answer {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not a CORS request
	}
	if r.Method == http.MethodOptions {
		if reqMethod := r.Header.Get("Access-Control-Request-Method"); reqMethod != "" {
			return p.preflight(r, origin, reqMethod)
		}
	}
	if !p.originAllowed(origin) {
		if r.RespHeader != nil {
			r.RespHeader.Add("Vary", "Origin")
		}
		return nil
	}
	if r.RespHeader == nil {
		return nil
	}
	if p.anyOrigin && !p.credentials {
		r.RespHeader.Set("Access-Control-Allow-Origin", "*")
	} else {
		r.RespHeader.Set("Access-Control-Allow-Origin", origin)
		r.RespHeader.Add("Vary", "Origin")
	}
	if p.credentials {
		r.RespHeader.Set("Access-Control-Allow-Credentials", "true")
	}
	if p.expose != "" {
		r.RespHeader.Set("Access-Control-Expose-Headers", p.expose)
	}
	return nil
}

func (p *Policy) preflight(r *policy.Request, origin, reqMethod string) *policy.Answer {
	if !p.originAllowed(origin) {
		return refuse("origin not allowed")
	}
	if !p.methodAllowed(reqMethod) {
		return refuse("method not allowed")
	}
	reqHeaders := r.Header.Values("Access-Control-Request-Headers")
	for _, v := range reqHeaders {
		for h := range strings.SplitSeq(v, ",") {
			h = strings.TrimSpace(h)
			if h != "" && !p.anyHeader && !p.headers[strings.ToLower(h)] {
				return refuse("request header not allowed")
			}
		}
	}
	a := &policy.Answer{
		Status: http.StatusNoContent,
		NoBody: true,
		Header: map[string]string{
			"Access-Control-Allow-Methods": p.methodsList,
			"Access-Control-Max-Age":       p.maxAge,
			"Vary":                         "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
		},
	}
	if p.anyOrigin && !p.credentials {
		a.Header["Access-Control-Allow-Origin"] = "*"
	} else {
		a.Header["Access-Control-Allow-Origin"] = origin
	}
	if p.credentials {
		a.Header["Access-Control-Allow-Credentials"] = "true"
	}
	if len(reqHeaders) > 0 {
		// Echo what was asked (all of it is allowed by now): "*" is not a wildcard
		// for credentialed requests and never covers Authorization.
		a.Header["Access-Control-Allow-Headers"] = strings.Join(reqHeaders, ", ")
	}
	return a
}

func refuse(detail string) *policy.Answer {
	return &policy.Answer{Status: problem.Forbidden.Status, Reason: problem.Forbidden.Reason, Detail: "CORS preflight refused: " + detail}
}

// originAllowed matches a serialised origin against the configured ones.
func (p *Policy) originAllowed(o string) bool {
	if p.anyOrigin {
		return true
	}
	for _, e := range p.exact {
		if strings.EqualFold(o, e) {
			return true
		}
	}
	if len(p.wild) == 0 {
		return false
	}
	lo := strings.ToLower(o)
	for _, w := range p.wild {
		if !strings.HasPrefix(lo, w.prefix) || !strings.HasSuffix(lo, w.suffix) || len(lo) <= len(w.prefix)+len(w.suffix) {
			continue
		}
		if validLabels(lo[len(w.prefix) : len(lo)-len(w.suffix)]) {
			return true
		}
	}
	return false
}

// validLabels accepts the subdomain part a wildcard stands for: DNS labels joined by
// dots, so "evil.com/x." or "user@" cannot ride on a suffix match.
func validLabels(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (p *Policy) methodAllowed(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true // CORS-safelisted methods are always allowed by browsers
	}
	for _, a := range p.methods {
		if a == m {
			return true
		}
	}
	return false
}
