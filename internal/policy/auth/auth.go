package auth

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/problem"
)

// Name is the policy's config name.
const Name = "auth"

// Options are the parts of a Policy that do not come from its config section.
type Options struct {
	// Client fetches JWK Sets; nil: a client with a 10s timeout.
	Client *http.Client
	// Logger receives JWKS refresh failures and (at debug) why credentials failed; nil: discard.
	Logger *slog.Logger
	// ConsumerHeader carries the consumer name upstream (security.consumer_header);
	// "": config.DefaultConsumerHeader.
	ConsumerHeader string
	// OnResult, when set, is called once per Apply with the method that decided and
	// the outcome (ReasonNone on success), for metrics. It must be cheap and safe for
	// concurrent use.
	OnResult func(m Method, r Reason)
	// Now is the clock for token and certificate validity; nil: time.Now.
	Now func() time.Time
}

// Policy authenticates requests of one route.
type Policy struct {
	consumerHeader string
	stripHeaders   []string // consumer header and forward_claims headers
	log            *slog.Logger
	onResult       func(Method, Reason)
	now            func() time.Time

	mtls   *mtlsAuth
	apiKey *apiKeyAuth
	basic  *basicAuth
	jwt    *jwtAuth

	// answers are the prebuilt 401s, one per Reason; shared and read-only.
	answers [numReasons]*policy.Answer
}

var _ policy.Policy = (*Policy)(nil)

// New builds the auth policy of a route from its validated (and defaulted) section and
// the configured consumers. File and PEM keys and CA bundles are read here; errors
// carry the config position (*config.BuildError). JWK Sets are fetched in the
// background, never here, so a down identity provider cannot block a reload.
func New(cfg *config.Auth, consumers map[string]*config.Consumer, opts Options) (*Policy, error) {
	p := &Policy{
		consumerHeader: opts.ConsumerHeader,
		log:            opts.Logger,
		onResult:       opts.OnResult,
		now:            opts.Now,
	}
	if p.consumerHeader == "" {
		p.consumerHeader = config.DefaultConsumerHeader
	}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.stripHeaders = []string{p.consumerHeader}
	idx := newConsumerIndex(consumers)
	var err error
	if cfg.MTLS != nil {
		if p.mtls, err = newMTLS(cfg.MTLS, idx, p.now); err != nil {
			return nil, err
		}
	}
	if cfg.APIKey != nil {
		p.apiKey = newAPIKey(cfg.APIKey, idx)
	}
	if cfg.Basic != nil {
		if p.basic, err = newBasic(cfg.Basic, idx); err != nil {
			return nil, err
		}
	}
	if cfg.JWT != nil {
		client := opts.Client
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		if p.jwt, err = newJWT(cfg.JWT, idx, client, p.log, p.now); err != nil {
			p.Close()
			return nil, err
		}
		for _, f := range p.jwt.forward {
			p.stripHeaders = append(p.stripHeaders, f.header)
		}
	}
	if p.mtls == nil && p.apiKey == nil && p.basic == nil && p.jwt == nil {
		return nil, config.FieldError(cfg.At, "api_key", ErrNoMethod)
	}
	p.buildAnswers()
	return p, nil
}

// Name returns "auth".
func (p *Policy) Name() string { return Name }

// Close stops background JWKS refreshes. Safe to call more than once; the Policy keeps
// answering with the keys it had.
func (p *Policy) Close() {
	if p.jwt != nil {
		p.jwt.close()
	}
}

// StripConsumerHeader removes client-supplied copies of the consumer header (name ""
// means config.DefaultConsumerHeader). The gateway runs it on every request of every
// route, so a backend can trust the header whether or not the route authenticates.
func StripConsumerHeader(h policy.Header, name string) {
	if name == "" {
		name = config.DefaultConsumerHeader
	}
	h.Del(name)
}

// Apply authenticates r: nil with r.Consumer set and the consumer header added, or a 401.
func (p *Policy) Apply(r *policy.Request) *policy.Answer {
	for _, h := range p.stripHeaders {
		r.Header.Del(h)
	}
	r.Consumer = nil
	failed, failedBy := ReasonMissing, MethodNone
	try := func(m Method, c *policy.Consumer, why Reason) bool {
		if why == ReasonNone {
			r.Consumer = c
			r.Header.Set(p.consumerHeader, c.Name)
			p.result(m, ReasonNone)
			return true
		}
		if why != ReasonMissing && failed == ReasonMissing {
			failed, failedBy = why, m
		}
		return false
	}
	if p.mtls != nil {
		if c, why := p.mtls.authenticate(r); try(MethodMTLS, c, why) {
			return nil
		}
	}
	if p.apiKey != nil {
		if c, why := p.apiKey.authenticate(r); try(MethodAPIKey, c, why) {
			return nil
		}
	}
	authz := r.Header.Get("Authorization")
	if p.basic != nil {
		if c, why := p.basic.authenticate(authz); try(MethodBasic, c, why) {
			return nil
		}
	}
	if p.jwt != nil {
		v, why := p.jwt.authenticate(authz, p.log)
		var c *policy.Consumer
		if v != nil {
			c = v.consumer
		}
		if try(MethodJWT, c, why) {
			for _, f := range v.forward {
				r.Header.Set(f.name, f.value)
			}
			return nil
		}
	}
	p.result(failedBy, failed)
	return p.answers[failed]
}

func (p *Policy) result(m Method, why Reason) {
	if p.onResult != nil {
		p.onResult(m, why)
	}
}

// buildAnswers prepares one 401 per Reason. The challenge of the method that failed
// leads (its error attributes tell the client what went wrong, RFC 6750 section 3.1);
// the other configured methods follow so a client learns every way in.
func (p *Policy) buildAnswers() {
	for i := range p.answers {
		why := Reason(i)
		var ch []string
		if p.jwt != nil {
			b := `Bearer realm="` + p.jwt.realm + `"`
			if isJWTReason(why) {
				// RFC 6750 section 3.1: no error code when the request had no token.
				b += `, error="invalid_token", error_description="` + why.Detail() + `"`
				ch = append([]string{b}, ch...)
			} else {
				ch = append(ch, b)
			}
		}
		if p.basic != nil {
			b := `Basic realm="` + p.basic.realm + `", charset="UTF-8"`
			if why == ReasonBadPassword {
				ch = append([]string{b}, ch...)
			} else {
				ch = append(ch, b)
			}
		}
		if p.apiKey != nil {
			// No registered scheme exists for API keys; this one names where the key goes.
			b := `ApiKey realm="` + config.DefaultRealm + `"`
			if p.apiKey.header != "" {
				b += `, header="` + p.apiKey.header + `"`
			}
			ch = append(ch, b)
		}
		a := &policy.Answer{
			Status: problem.Unauthorized.Status,
			Reason: problem.Unauthorized.Reason,
			Detail: why.Detail(),
		}
		if len(ch) > 0 {
			a.Header = map[string]string{"WWW-Authenticate": strings.Join(ch, ", ")}
		}
		p.answers[i] = a
	}
}

func isJWTReason(r Reason) bool {
	switch r {
	case ReasonMalformed, ReasonExpired, ReasonNotYetValid, ReasonIssuer, ReasonAudience,
		ReasonClaims, ReasonSignature, ReasonAlgorithm, ReasonUnknownKey:
		return true
	}
	return false
}

// consumerIndex maps config consumers to the shared, read-only policy.Consumer values.
type consumerIndex struct {
	byName map[string]*policy.Consumer
	cfg    map[string]*config.Consumer
}

func newConsumerIndex(consumers map[string]*config.Consumer) *consumerIndex {
	idx := &consumerIndex{byName: map[string]*policy.Consumer{}, cfg: map[string]*config.Consumer{}}
	for name, c := range consumers {
		if c == nil {
			continue
		}
		if c.Name != "" {
			name = c.Name
		}
		idx.byName[name] = &policy.Consumer{Name: name, Groups: c.Groups, Meta: c.Meta, Scopes: c.Scopes}
		idx.cfg[name] = c
	}
	return idx
}

// safeHeaderValue reports whether s can travel in a header value unchanged: no control
// bytes (CR, LF, NUL ...), bounded length.
func safeHeaderValue(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
