package config

// Config is a whole gantry.yaml after parsing, defaulting and validation.
type Config struct {
	At `yaml:"-"`

	// Source is the file the config was read from ("" for an embedded config).
	Source string `yaml:"-"`
	// Hash is a stable hex digest of the source bytes, exported as a metric and in the admin API.
	Hash string `yaml:"-"`

	Listeners map[string]*Listener `yaml:"listeners"`
	Upstreams map[string]*Upstream `yaml:"upstreams"`
	Routes    []*Route             `yaml:"routes"`
	Admin     *Admin               `yaml:"admin"`
	Log       Log                  `yaml:"log"`

	// Consumers are named identities that credentials map to (security.go).
	Consumers map[string]*Consumer `yaml:"consumers"`
	// Security holds gateway-wide security settings (security.go).
	Security Security `yaml:"security"`
	// Observe configures metrics, tracing and the access log (observe.go).
	Observe Observe `yaml:"observe"`
}

// Listener is one address the gateway accepts connections on.
type Listener struct {
	At `yaml:"-"`
	// Name is the key under listeners:, filled by the decoder.
	Name string `yaml:"-"`

	// Address is host:port; required. Two listeners may not share an address.
	Address string `yaml:"address"`
	// Protocol is http (default: HTTP/1.1 and h2c, or HTTPS with HTTP/2 when TLS is set), tcp or udp.
	Protocol string `yaml:"protocol"`
	// Engine serves plain-HTTP listeners: fast (default: Gantry's own HTTP/1.1 engine,
	// handing h2c, upgrades and what it does not do to net/http) or standard (net/http
	// only). TLS listeners always use net/http.
	Engine string `yaml:"engine"`
	// Upstream is the pool a tcp or udp listener forwards to (not allowed for http).
	Upstream string `yaml:"upstream"`
	// TLS terminates TLS on an http listener.
	TLS *TLS `yaml:"tls"`
	// Timeouts for client connections.
	Timeouts ListenerTimeouts `yaml:"timeouts"`
	// Limits on what a client may send.
	Limits ListenerLimits `yaml:"limits"`
	// IPFilter applies to every connection on the listener (security.go).
	IPFilter *IPFilter `yaml:"ip_filter"`
	// SNI routes tcp connections by TLS server name to upstreams without terminating TLS
	// (TLS passthrough): server name ("*.example.com" allowed) → upstream name.
	SNI map[string]string `yaml:"sni"`
	// ProxyProtocol accepts a PROXY protocol v1/v2 header from clients (tcp and http listeners).
	ProxyProtocol bool `yaml:"proxy_protocol"`
}

// Listener engines.
const (
	EngineFast     = "fast"
	EngineStandard = "standard"
)

// Listener protocols.
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
	ProtocolUDP  = "udp"
)

// TLS configures TLS termination on a listener.
type TLS struct {
	At `yaml:"-"`
	// Certificates are served by SNI name; the first one is the default.
	Certificates []Certificate `yaml:"certificates"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// ClientCAFile is a PEM bundle; when set the listener asks for client certificates
	// and verifies those given (mTLS routes then map them to consumers).
	ClientCAFile string `yaml:"client_ca_file"`
	// HSTS adds Strict-Transport-Security to responses on this listener (RFC 6797).
	HSTS *HSTS `yaml:"hsts"`
	// RedirectHTTP is an address ("[host]:port") on which plain HTTP requests are
	// answered with a 308 redirect to this listener.
	RedirectHTTP string `yaml:"redirect_http"`
}

// Options returns the settings internal/tlsconf takes beside certificates.
func (t *TLS) Options() *TLSOptions {
	return &TLSOptions{At: t.At, ClientCAFile: t.ClientCAFile, HSTS: t.HSTS, RedirectHTTP: t.RedirectHTTP}
}

// Certificate is one PEM certificate chain and its key, read from files.
type Certificate struct {
	At       `yaml:"-"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ListenerTimeouts bound how long a client may hold a connection.
type ListenerTimeouts struct {
	At `yaml:"-"`
	// ReadHeader bounds reading a request's headers (slowloris); default 10s. An explicit
	// 0 is a problem here and in every other timeout with a non-zero default.
	ReadHeader Duration `yaml:"read_header"`
	// Idle bounds a keep-alive connection between requests (and a tcp/udp session without traffic); default 120s.
	Idle Duration `yaml:"idle"`
	// Drain bounds graceful shutdown and the drain of a replaced snapshot's idle work; default 30s.
	Drain Duration `yaml:"drain"`
}

// ListenerLimits bound what a client may send.
type ListenerLimits struct {
	At `yaml:"-"`
	// MaxHeaderBytes bounds the request line plus headers; default 64KiB, must be > 0.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// MaxConnections bounds concurrent client connections; 0 (default) means no limit.
	MaxConnections int `yaml:"max_connections"`
	// MaxHeaderCount bounds the number of header fields of a request (431 above it);
	// default 100, must be > 0.
	MaxHeaderCount int `yaml:"max_header_count"`
	// MaxURILength bounds the request target (414 above it); default 8KiB, must be > 0.
	// The request line is also bounded by MaxHeaderBytes, so a larger value than that
	// has no effect.
	MaxURILength Size `yaml:"max_uri_length"`
	// MaxRequestsPerConnection ends a keep-alive connection after this many requests
	// (the last answer carries Connection: close); 0 (default) means no limit.
	MaxRequestsPerConnection int `yaml:"max_requests_per_connection"`
}

// Upstream is a named pool of targets and how to balance over them.
type Upstream struct {
	At `yaml:"-"`
	// Name is the key under upstreams:, filled by the decoder.
	Name string `yaml:"-"`

	// Balance names the algorithm; default round_robin. See internal/balancer.
	Balance string `yaml:"balance"`
	// HashKey is what consistent_hash hashes: header:NAME, cookie:NAME, query:NAME, ip or path.
	HashKey string `yaml:"hash_key"`
	// Targets are the servers. Written as "http://host:port" (or "host:port" for tcp/udp
	// listeners), or as a mapping {url: ..., weight: N}.
	Targets []Target `yaml:"targets"`
	// Timeouts towards the targets; routes may override.
	Timeouts UpstreamTimeouts `yaml:"timeouts"`
	// Health configures active checks (nil: none).
	Health *HealthCheck `yaml:"health"`
	// Outlier configures passive health (nil: none).
	Outlier *Outlier `yaml:"outlier"`
	// Retries is the default retry policy of routes to this upstream. Absent means the
	// defaults; after Parse it is never nil.
	Retries *Retries `yaml:"retries"`
	// CircuitBreaker caps concurrent work (nil: none).
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"`
	// ProxyProtocol sends a PROXY protocol header to targets of tcp listeners: "" (default,
	// none), "v1" or "v2"; not allowed on an upstream of http routes.
	ProxyProtocol string `yaml:"proxy_protocol"`
}

// Target is one server of an upstream.
type Target struct {
	At `yaml:"-"`
	// URL is scheme://host:port for HTTP (schemes http, https, h2c) or host:port for tcp/udp.
	URL string `yaml:"url"`
	// Weight is relative; default 1 (also in the short form), 0 is not allowed.
	Weight int `yaml:"weight"`
}

// UpstreamTimeouts bound each try towards a target.
type UpstreamTimeouts struct {
	At `yaml:"-"`
	// Connect bounds dialing a target; default 5s.
	Connect Duration `yaml:"connect"`
	// ResponseHeader bounds waiting for the response headers after the request is sent; default 60s.
	ResponseHeader Duration `yaml:"response_header"`
	// Idle bounds how long a pooled upstream connection stays idle; default 90s.
	Idle Duration `yaml:"idle"`
}

// Route sends matching requests to an upstream.
type Route struct {
	At `yaml:"-"`
	// Name is required and unique.
	Name string `yaml:"name"`
	// Listeners limits the route to these http listeners; empty means all of them.
	Listeners []string `yaml:"listeners"`
	Match     Match    `yaml:"match"`
	// Upstream is the name of the pool that serves the route; required.
	Upstream string `yaml:"upstream"`
	// Rewrite changes the path (and host) sent upstream.
	Rewrite *Rewrite `yaml:"rewrite"`
	// Timeouts override the upstream's for this route.
	Timeouts RouteTimeouts `yaml:"timeouts"`
	// Retries replaces the upstream's retry policy as a whole (its absent keys take the
	// defaults, not the upstream's values). After Parse it is never nil: a route without
	// retries shares its upstream's *Retries.
	Retries *Retries `yaml:"retries"`

	// Policies (security.go); nil means off.
	Limits   *RouteLimits `yaml:"limits"`
	IPFilter *IPFilter    `yaml:"ip_filter"`
	CORS     *CORS        `yaml:"cors"`
	Auth     *Auth        `yaml:"auth"`
	Authz    *Authz       `yaml:"authorize"`
}

// Match says which requests a route takes. Every given condition must hold.
type Match struct {
	At `yaml:"-"`
	// Hosts are exact names ("api.example.com") or one leading wildcard label
	// ("*.example.com"); compared without port, case-insensitively. Empty: any host.
	// Parse lower-cases them.
	Hosts []string `yaml:"hosts"`
	// Path is exact ("/health"), a prefix with a tail wildcard ("/api/*"), and may hold
	// {name} segments ("/users/{id}/orders"). Empty: any path ("/*").
	Path string `yaml:"path"`
	// PathRegex is the escape hatch, an RE2 regex matched against the whole path; exclusive with Path.
	PathRegex string `yaml:"path_regex"`
	// Methods: empty means any. Parse upper-cases them ("get" is GET).
	Methods []string `yaml:"methods"`
	// Headers by name: exact value, regex or presence.
	Headers map[string]ValueMatch `yaml:"headers"`
	// Query parameters by name: exact value, regex or presence.
	Query map[string]ValueMatch `yaml:"query"`
	// Body matches fields of a JSON body by a simple path ("$.operation", "$.user.kind").
	Body map[string]ValueMatch `yaml:"body"`
	// MaxBodyBytes bounds how much body is buffered for Body matching; default 64KiB.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
}

// ValueMatch is written either as a plain string (exact match) or as a mapping with
// exactly one of exact, regex, present.
type ValueMatch struct {
	At      `yaml:"-"`
	Exact   *string `yaml:"exact"`
	Regex   string  `yaml:"regex"`
	Present *bool   `yaml:"present"`
}

// Rewrite changes the upstream request.
type Rewrite struct {
	At `yaml:"-"`
	// StripPrefix removes a literal path prefix ("/api" turns "/api/x" into "/x").
	StripPrefix string `yaml:"strip_prefix"`
	// Path replaces the path; may use {name} params of Match.Path and {*} for the tail.
	Path string `yaml:"path"`
	// Host sets the Host header sent upstream; default: the client's Host.
	Host string `yaml:"host"`
}

// RouteTimeouts override UpstreamTimeouts per route; zero means "the upstream's". After
// Parse, Connect and ResponseHeader hold the effective values (the upstream's when unset).
type RouteTimeouts struct {
	At             `yaml:"-"`
	Connect        Duration `yaml:"connect"`
	ResponseHeader Duration `yaml:"response_header"`
	// Request bounds the whole exchange including the response body; 0 (default): none.
	Request Duration `yaml:"request"`
}

// Admin configures the admin listener. A nil *Admin (no admin: section) means no admin
// listener; "admin: {}" enables it with the defaults.
type Admin struct {
	At `yaml:"-"`
	// Address defaults to 127.0.0.1:9901.
	Address string `yaml:"address"`
	// Token is required when Address is not loopback; sent as "Authorization: Bearer TOKEN".
	Token string `yaml:"token"`
}

// Log configures the process log.
type Log struct {
	At `yaml:"-"`
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is text (default) or json.
	Format string `yaml:"format"`
}
