package config

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// validate adds every problem of a defaulted Config to ps. Each problem points at the
// field that is wrong; a cross-reference problem points at the referring field.
func validate(c *Config, ps *Problems) {
	use := upstreamUse(c)
	validateListeners(c, ps)
	validateUpstreams(c, use, ps)
	validateRoutes(c, ps)
	if c.Admin != nil {
		validateAdmin(c.Admin, ps)
	}
	validateLog(&c.Log, ps)
	validateSecurity(c, ps)
	validateObserve(c, ps)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// checkName reports a listener, upstream or route name that would not survive being a
// metric label, a log field or an item of Changes.String.
func checkName(pos Pos, path, kind, name string, ps *Problems) {
	if !nameRE.MatchString(name) {
		ps.Add(pos, path, "invalid %s name %q (use letters, digits, '_', '-' and '.', starting with a letter or digit)", kind, name)
	}
}

func validateListeners(c *Config, ps *Problems) {
	if len(c.Listeners) == 0 {
		ps.AddField(c.At, "listeners", "at least one listener is required")
		return
	}
	type first struct {
		name string
		line int
	}
	seen := map[string]first{}
	for _, name := range inFileOrder(c.Listeners) {
		l := c.Listeners[name]
		path := mapPath("listeners", name)
		checkName(l.Pos, path, "listener", name, ps)
		switch l.Protocol {
		case ProtocolHTTP, ProtocolTCP, ProtocolUDP:
		default:
			ps.AddField(l.At, "protocol", "unknown protocol %q (known: http, tcp, udp)", l.Protocol)
		}
		if l.Address == "" {
			ps.Add(l.Field("address"), l.FieldPath("address"), "address is required (host:port, e.g. \":8080\" or \"127.0.0.1:8080\")")
		} else if host, port, err := splitAddress(l.Address, true); err != nil {
			ps.AddField(l.At, "address", "%s", err)
		} else if port != 0 {
			// Two port-0 listeners get different ports from the kernel; tcp and udp
			// listeners may share a port number.
			network := "tcp"
			if l.Protocol == ProtocolUDP {
				network = "udp"
			}
			key := network + " " + strings.ToLower(host) + ":" + strconv.Itoa(port)
			if f, dup := seen[key]; dup {
				ps.AddField(l.At, "address", "address %q is already used by listener %q (line %d)", l.Address, f.name, f.line)
			} else {
				seen[key] = first{name, l.Field("address").Line}
			}
		}
		switch l.Protocol {
		case ProtocolHTTP:
			if l.Engine != EngineFast && l.Engine != EngineStandard {
				ps.AddField(l.At, "engine", "unknown engine %q (known: fast, standard)", l.Engine)
			}
			if l.Upstream != "" {
				ps.AddField(l.At, "upstream", "an http listener has no upstream; routes choose the upstream (upstream is for tcp and udp listeners)")
			}
			if len(l.SNI) > 0 {
				ps.AddField(l.At, "sni", "sni routing is for tcp listeners (TLS passthrough); http listeners route with routes[].match.hosts")
			}
		case ProtocolTCP, ProtocolUDP:
			if l.Engine != "" {
				ps.AddField(l.At, "engine", "engine is for http listeners")
			}
			validateL4Listener(c, l, ps)
		}
		if l.TLS != nil {
			validateTLS(l, ps)
		}
		if l.ProxyProtocol && l.Protocol == ProtocolUDP {
			ps.AddField(l.At, "proxy_protocol", "proxy_protocol is only supported on tcp and http listeners")
		}
		positiveDuration(l.Timeouts.At, "read_header", l.Timeouts.ReadHeader, ps)
		positiveDuration(l.Timeouts.At, "idle", l.Timeouts.Idle, ps)
		positiveDuration(l.Timeouts.At, "drain", l.Timeouts.Drain, ps)
		if l.Limits.MaxHeaderBytes <= 0 {
			ps.AddField(l.Limits.At, "max_header_bytes", "must be greater than 0")
		}
		if l.Limits.MaxConnections < 0 {
			ps.AddField(l.Limits.At, "max_connections", "must not be negative, got %d (0 means no limit)", l.Limits.MaxConnections)
		}
		if l.Limits.MaxHeaderCount <= 0 {
			ps.AddField(l.Limits.At, "max_header_count", "must be greater than 0, got %d", l.Limits.MaxHeaderCount)
		}
		if l.Limits.MaxURILength <= 0 {
			ps.AddField(l.Limits.At, "max_uri_length", "must be greater than 0")
		}
		if l.Limits.MaxRequestsPerConnection < 0 {
			ps.AddField(l.Limits.At, "max_requests_per_connection", "must not be negative, got %d (0 means no limit)", l.Limits.MaxRequestsPerConnection)
		}
	}
}

func validateL4Listener(c *Config, l *Listener, ps *Problems) {
	if l.Upstream == "" && len(l.SNI) == 0 {
		ps.Add(l.Field("upstream"), l.FieldPath("upstream"), "a %s listener needs an upstream (or an sni map)", l.Protocol)
	}
	if l.Upstream != "" {
		if _, ok := c.Upstreams[l.Upstream]; !ok {
			ps.AddField(l.At, "upstream", "unknown upstream %q (%s)", l.Upstream, known(c.Upstreams))
		}
	}
	if len(l.SNI) == 0 {
		return
	}
	if l.Protocol == ProtocolUDP {
		ps.AddField(l.At, "sni", "sni routing needs protocol tcp (TLS runs over tcp)")
	}
	for _, name := range slices.Sorted(maps.Keys(l.SNI)) {
		up := l.SNI[name]
		if !validHostPattern(name) {
			ps.Add(l.Entry("sni", name), l.EntryPath("sni", name), "invalid server name %q (a host name, or \"*.\" and a host name)", name)
		}
		if _, ok := c.Upstreams[up]; !ok {
			ps.Add(l.Entry("sni", name), l.EntryPath("sni", name), "unknown upstream %q (%s)", up, known(c.Upstreams))
		}
	}
}

func validateTLS(l *Listener, ps *Problems) {
	t := l.TLS
	if l.Protocol != ProtocolHTTP {
		ps.AddField(l.At, "tls", "tls termination is only for http listeners (a tcp listener passes TLS through, see sni)")
	}
	if len(t.Certificates) == 0 {
		ps.Add(t.Field("certificates"), t.FieldPath("certificates"), "at least one certificate is required")
	}
	for i := range t.Certificates {
		cert := &t.Certificates[i]
		if cert.CertFile == "" {
			ps.Add(cert.Field("cert_file"), cert.FieldPath("cert_file"), "cert_file is required")
		}
		if cert.KeyFile == "" {
			ps.Add(cert.Field("key_file"), cert.FieldPath("key_file"), "key_file is required")
		}
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		ps.AddField(t.At, "min_version", "unknown TLS version %q (known: 1.2, 1.3)", t.MinVersion)
	}
	validateTLSOptions(t.Options(), ps)
}

func validateUpstreams(c *Config, use map[string]use, ps *Problems) {
	for _, name := range inFileOrder(c.Upstreams) {
		u := c.Upstreams[name]
		path := mapPath("upstreams", name)
		checkName(u.Pos, path, "upstream", name, ps)
		us := use[name]
		l4 := us.l4()
		if l4 && len(us.routes) > 0 {
			r := us.routes[0]
			ps.Add(u.Pos, path, "upstream is used by http route %q (routes[%d]) and by %s listener %q; an upstream serves either http routes or tcp/udp listeners",
				c.Routes[r].Name, r, c.Listeners[us.listeners[0]].Protocol, us.listeners[0])
		}
		if len(u.Targets) == 0 {
			ps.Add(u.Field("targets"), u.FieldPath("targets"), "at least one target is required")
		}
		firstURL := map[string]int{}
		for i := range u.Targets {
			t := &u.Targets[i]
			if line, dup := firstURL[t.URL]; dup && t.URL != "" {
				ps.AddField(t.At, "url", "duplicate target %q (first at line %d)", t.URL, line)
			} else {
				firstURL[t.URL] = t.Field("url").Line
			}
			// With mixed use the URL's form is unclear; that problem is reported above.
			if mixed := l4 && len(us.routes) > 0; !mixed {
				if err := checkTargetURL(t.URL, l4); err != nil {
					ps.AddField(t.At, "url", "%s", err)
				}
			}
			if t.Weight < 1 {
				ps.AddField(t.At, "weight", "weight must be at least 1, got %d (remove the target, or drain it through the admin API)", t.Weight)
			}
		}
		if !slices.Contains(BalancerNames, u.Balance) {
			ps.AddField(u.At, "balance", "unknown balancer %q (known: %s)", u.Balance, strings.Join(BalancerNames, ", "))
		}
		switch {
		case u.Balance == BalanceConsistentHash && u.HashKey == "":
			ps.Add(u.Field("hash_key"), u.FieldPath("hash_key"), "consistent_hash needs a hash_key (header:NAME, cookie:NAME, query:NAME, ip or path)")
		case u.HashKey != "" && u.Balance != BalanceConsistentHash:
			ps.AddField(u.At, "hash_key", "hash_key is only used by balance consistent_hash (balance is %s)", u.Balance)
		case u.HashKey != "" && !validHashKey(u.HashKey):
			ps.AddField(u.At, "hash_key", "invalid hash_key %q (write header:NAME, cookie:NAME, query:NAME, ip or path)", u.HashKey)
		}
		positiveDuration(u.Timeouts.At, "connect", u.Timeouts.Connect, ps)
		positiveDuration(u.Timeouts.At, "response_header", u.Timeouts.ResponseHeader, ps)
		positiveDuration(u.Timeouts.At, "idle", u.Timeouts.Idle, ps)
		if u.Health != nil {
			validateHealth(u.Health, ps)
		}
		if u.Outlier != nil {
			validateOutlier(u.Outlier, ps)
		}
		if u.Retries != nil {
			validateRetries(u.Retries, ps)
		}
		if u.CircuitBreaker != nil {
			validateCircuitBreaker(u.CircuitBreaker, ps)
		}
		switch u.ProxyProtocol {
		case "", "v1", "v2":
			if u.ProxyProtocol != "" && len(us.routes) > 0 && !l4 {
				ps.AddField(u.At, "proxy_protocol", "proxy_protocol is sent to targets of tcp listeners only, but this upstream serves http routes")
			}
		default:
			ps.AddField(u.At, "proxy_protocol", "unknown proxy_protocol %q (known: v1, v2, or empty for none)", u.ProxyProtocol)
		}
	}
}

// checkTargetURL checks one target: "scheme://host:port" for http upstreams, "host:port"
// for upstreams of tcp/udp listeners.
func checkTargetURL(s string, l4 bool) error {
	if s == "" {
		return fmt.Errorf("target url is required")
	}
	if l4 {
		if strings.Contains(s, "://") {
			return fmt.Errorf("target %q of a tcp/udp upstream is host:port, without a scheme", s)
		}
		_, _, err := splitAddress(s, false)
		if err != nil {
			return fmt.Errorf("target %q: %w", s, err)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		return fmt.Errorf("invalid target %q (write scheme://host:port with scheme http, https or h2c)", s)
	}
	switch u.Scheme {
	case "http", "https", "h2c":
	default:
		return fmt.Errorf("target %q: unknown scheme %q (known: http, https, h2c)", s, u.Scheme)
	}
	switch {
	case u.User != nil:
		return fmt.Errorf("target %q may not hold credentials", s)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return fmt.Errorf("target %q may not have a path, query or fragment (use a route's rewrite to change the path)", s)
	case u.Port() == "":
		return fmt.Errorf("target %q needs a port (e.g. %s://%s:%s)", s, u.Scheme, u.Host, defaultPort(u.Scheme))
	}
	if _, _, err := splitAddress(u.Host, false); err != nil {
		return fmt.Errorf("target %q: %w", s, err)
	}
	return nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

var hashKeyRE = regexp.MustCompile(`^(ip|path|(header|cookie|query):[^:\s]+)$`)

func validHashKey(s string) bool { return hashKeyRE.MatchString(s) }

func validateRoutes(c *Config, ps *Problems) {
	firstLine := map[string]int{}
	for i, r := range c.Routes {
		if r == nil {
			ps.Add(c.Item("routes", i), fmt.Sprintf("routes[%d]", i), "route is empty (a route needs at least name and upstream)")
			continue
		}
		switch {
		case r.Name == "":
			ps.Add(r.Field("name"), r.FieldPath("name"), "name is required")
		case !nameRE.MatchString(r.Name):
			checkName(r.Field("name"), r.FieldPath("name"), "route", r.Name, ps)
		default:
			if line, dup := firstLine[r.Name]; dup {
				ps.AddField(r.At, "name", "duplicate route name %q (first at line %d)", r.Name, line)
			} else {
				firstLine[r.Name] = r.Field("name").Line
			}
		}
		for j, ln := range r.Listeners {
			l, ok := c.Listeners[ln]
			switch {
			case !ok:
				ps.Add(r.Item("listeners", j), r.ItemPath("listeners", j), "unknown listener %q (%s)", ln, known(c.Listeners))
			case l.Protocol != ProtocolHTTP:
				ps.Add(r.Item("listeners", j), r.ItemPath("listeners", j), "listener %q is %s; routes apply to http listeners only", ln, l.Protocol)
			}
		}
		u, ok := c.Upstreams[r.Upstream]
		switch {
		case r.Upstream == "":
			ps.Add(r.Field("upstream"), r.FieldPath("upstream"), "upstream is required")
		case !ok:
			ps.AddField(r.At, "upstream", "unknown upstream %q (%s)", r.Upstream, known(c.Upstreams))
		}
		pp, hasPath := validateMatch(&r.Match, ps)
		if r.Rewrite != nil {
			validateRewrite(r.Rewrite, pp, hasPath, ps)
		}
		if r.Retries != nil && (u == nil || r.Retries != u.Retries) {
			validateRetries(r.Retries, ps)
		}
	}
}

// validateMatch checks a route's match and reports its path pattern (for rewrite).
func validateMatch(m *Match, ps *Problems) (pp pathPattern, hasPath bool) {
	for i, h := range m.Hosts {
		if !validHostPattern(h) {
			ps.Add(m.Item("hosts", i), m.ItemPath("hosts", i), "invalid host %q (a host name, or \"*.\" and a host name; no port)", h)
		}
	}
	switch {
	case m.Path != "" && m.PathRegex != "":
		ps.AddField(m.At, "path_regex", "path and path_regex are exclusive; use one")
	case m.Path != "":
		var err error
		if pp, err = parsePathPattern(m.Path); err != nil {
			ps.AddField(m.At, "path", "%s", err)
		}
		hasPath = true
	case m.PathRegex == "":
		// No path condition: any path, as "/*".
		pp.tail = true
	}
	if m.PathRegex != "" {
		if _, err := regexp.Compile(m.PathRegex); err != nil {
			ps.AddField(m.At, "path_regex", "invalid regex: %s", regexError(err))
		}
	}
	for i, meth := range m.Methods {
		if !isToken(meth) {
			ps.Add(m.Item("methods", i), m.ItemPath("methods", i), "invalid method %q (an HTTP method is a token such as GET or POST)", meth)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Headers)) {
		if !isToken(name) {
			ps.Add(m.Entry("headers", name), m.EntryPath("headers", name), "invalid header name %q", name)
		}
		v := m.Headers[name]
		validateValueMatch(&v, m.Entry("headers", name), m.EntryPath("headers", name), ps)
	}
	for _, name := range slices.Sorted(maps.Keys(m.Query)) {
		if name == "" {
			ps.Add(m.Entry("query", name), m.EntryPath("query", name), "query parameter name is empty")
		}
		v := m.Query[name]
		validateValueMatch(&v, m.Entry("query", name), m.EntryPath("query", name), ps)
	}
	for _, name := range slices.Sorted(maps.Keys(m.Body)) {
		if !bodyKeyRE.MatchString(name) {
			ps.Add(m.Entry("body", name), m.EntryPath("body", name), "invalid body field %q (write a JSON path like \"$.operation\" or \"$.user.kind\")", name)
		}
		v := m.Body[name]
		validateValueMatch(&v, m.Entry("body", name), m.EntryPath("body", name), ps)
	}
	if m.MaxBodyBytes <= 0 {
		ps.AddField(m.At, "max_body_bytes", "must be greater than 0")
	}
	return pp, hasPath
}

var bodyKeyRE = regexp.MustCompile(`^\$(\.[A-Za-z0-9_-]+)+$`)

// validateValueMatch checks one header, query or body condition; pos and path are the
// entry's when the value has no mapping of its own.
func validateValueMatch(v *ValueMatch, pos Pos, path string, ps *Problems) {
	if v.Path != "" {
		pos, path = v.Pos, v.Path
	}
	n := 0
	if v.Exact != nil {
		n++
	}
	if v.Regex != "" {
		n++
	}
	if v.Present != nil {
		n++
	}
	if n != 1 {
		ps.Add(pos, path, "write exactly one of exact, regex, present (or a plain string for an exact match)")
	}
	if v.Regex != "" {
		if _, err := regexp.Compile(v.Regex); err != nil {
			ps.Add(v.Field("regex"), joinPath(path, "regex"), "invalid regex: %s", regexError(err))
		}
	}
}

func validateRewrite(rw *Rewrite, pp pathPattern, hasPath bool, ps *Problems) {
	if rw.StripPrefix != "" && !strings.HasPrefix(rw.StripPrefix, "/") {
		ps.AddField(rw.At, "strip_prefix", "strip_prefix %q must start with \"/\"", rw.StripPrefix)
	}
	if rw.StripPrefix != "" && rw.Path != "" {
		ps.AddField(rw.At, "path", "strip_prefix and path are exclusive (path replaces the whole path)")
	}
	if rw.Path != "" {
		if err := checkRewritePath(rw.Path, pp, hasPath); err != nil {
			ps.AddField(rw.At, "path", "%s", err)
		}
	}
	if rw.Host != "" {
		h := rw.Host
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		if !validHostName(h) {
			ps.AddField(rw.At, "host", "invalid host %q", rw.Host)
		}
	}
}

func validateAdmin(a *Admin, ps *Problems) {
	host, _, err := splitAddress(a.Address, true)
	if err != nil {
		ps.AddField(a.At, "address", "%s", err)
		return
	}
	if a.Token == "" && !isLoopback(host) {
		ps.Add(a.Field("token"), a.FieldPath("token"), "token is required when the admin address %q is not loopback (the admin API can change the running gateway)", a.Address)
	}
}

func validateLog(l *Log, ps *Problems) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.AddField(l.At, "level", "unknown log level %q (known: debug, info, warn, error)", l.Level)
	}
	switch l.Format {
	case "text", "json":
	default:
		ps.AddField(l.At, "format", "unknown log format %q (known: text, json)", l.Format)
	}
}

func positiveDuration(a At, key string, d Duration, ps *Problems) {
	if d <= 0 {
		ps.AddField(a, key, "must be greater than 0 (leave it out for the default)")
	}
}

// splitAddress splits host:port; port 0 is accepted only when allowZero (a listener
// asking the kernel for a free port, as tests do).
func splitAddress(addr string, allowZero bool) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("invalid address %q (write host:port, e.g. \":8080\" or \"127.0.0.1:8080\")", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 || (port == 0 && !allowZero) {
		lo := 1
		if allowZero {
			lo = 0
		}
		return "", 0, fmt.Errorf("invalid port %q in %q (want %d-65535)", portStr, addr, lo)
	}
	if host != "" && !validHostName(host) {
		return "", 0, fmt.Errorf("invalid host %q in %q", host, addr)
	}
	return host, port, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validHostName accepts an IP address or a DNS name (labels of letters, digits, '-'
// and '_', which internal service names use).
func validHostName(h string) bool {
	if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// validHostPattern accepts a host name or "*." followed by one.
func validHostPattern(h string) bool {
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		return !strings.Contains(rest, "*") && validHostName(rest)
	}
	return validHostName(h)
}

// isToken reports whether s is an RFC 9110 section 5.6.2 token (methods, header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// regexError strips Go's "error parsing regexp: " prefix, which "invalid regex:" already says.
func regexError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// known renders "known: a, b" for an unknown-name problem.
func known[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none are defined"
	}
	return "known: " + strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

// positioned is a config value that knows where it stands.
type positioned interface{ position() Pos }

func (a At) position() Pos { return a.Pos }

// inFileOrder returns m's keys ordered by where their values stand in the file (then by
// name), so that "duplicate" problems point at the later one.
func inFileOrder[V positioned](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		pa, pb := m[a].position(), m[b].position()
		return cmp.Or(cmp.Compare(pa.Line, pb.Line), cmp.Compare(pa.Col, pb.Col), strings.Compare(a, b))
	})
	return keys
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
