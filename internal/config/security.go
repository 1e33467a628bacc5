package config

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Consumer is a named identity; credentials (API keys, a Basic password, a client
// certificate name, a JWT subject) map to it. Its name travels upstream in
// Security.ConsumerHeader.
type Consumer struct {
	At `yaml:"-"`
	// Name is the key under consumers:, filled by the decoder.
	Name string `yaml:"-"`

	// Groups are used by authorize.groups.
	Groups []string `yaml:"groups"`
	// Scopes are granted to the consumer whatever method authenticated it; a JWT's
	// scope/scp claim adds to them. Used by authorize.scopes.
	Scopes []string `yaml:"scopes"`
	// Meta is free-form metadata (plan, team, ...), available to later policies and logs.
	Meta map[string]string `yaml:"meta"`
	// APIKeys are plain keys, meant to be written as ${ENV_VAR}; the auth policy keeps
	// only their SHA-256. At least 16 bytes each.
	APIKeys []string `yaml:"api_keys" json:"-"`
	// APIKeySHA256 are hex SHA-256 digests of keys (`printf %s KEY | sha256sum`).
	APIKeySHA256 []string `yaml:"api_key_sha256"`
	// Basic is the consumer's HTTP Basic credential.
	Basic *BasicCredential `yaml:"basic"`
	// CertNames are the client-certificate identities (per the route's
	// auth.mtls.consumer_from) that map to this consumer; empty means the consumer's name.
	CertNames []string `yaml:"cert_names"`
}

// BasicCredential is a username and a password hash (never a plain password).
type BasicCredential struct {
	At `yaml:"-"`
	// Username defaults to the consumer's name.
	Username string `yaml:"username"`
	// PasswordHash is bcrypt ("$2a$", "$2b$", "$2y$") or argon2id in PHC form
	// ("$argon2id$v=19$m=65536,t=3,p=2$SALT$HASH", unpadded base64).
	PasswordHash string `yaml:"password_hash"`
}

// Security holds gateway-wide security settings.
type Security struct {
	At `yaml:"-"`
	// ConsumerHeader carries the authenticated consumer's name upstream; client-supplied
	// copies are always removed. Default "X-Consumer".
	ConsumerHeader string `yaml:"consumer_header"`
	// TrustedProxies are CIDRs (or single addresses) of proxies whose X-Forwarded-For is
	// believed. Empty: the TCP peer is always the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Path says how request paths are normalised before routing and policies.
	Path PathSecurity `yaml:"path"`
}

// PathSecurity configures path normalisation.
type PathSecurity struct {
	At `yaml:"-"`
	// EncodedSlashes is what to do with "%2F" in a path: keep (default: it stays encoded and
	// is not a segment separator), decode (it becomes "/" before routing) or reject (400).
	EncodedSlashes string `yaml:"encoded_slashes"`
}

// Encoded-slash handling (PathSecurity.EncodedSlashes).
const (
	EncodedSlashesKeep   = "keep"
	EncodedSlashesDecode = "decode"
	EncodedSlashesReject = "reject"
)

// IPFilter allows or denies clients by CIDR. Deny wins; a non-empty Allow admits only
// the addresses it lists.
type IPFilter struct {
	At `yaml:"-"`
	// Allow lists CIDRs ("10.0.0.0/8") or addresses ("192.0.2.7").
	Allow []string `yaml:"allow"`
	// Deny lists CIDRs or addresses.
	Deny []string `yaml:"deny"`
}

// CORS answers preflights and adds CORS headers (Fetch standard, "CORS protocol").
type CORS struct {
	At `yaml:"-"`
	// Origins are exact ("https://app.example.com"), "*" (any), or one leading wildcard
	// label ("https://*.example.com"). Required.
	Origins []string `yaml:"origins"`
	// Methods allowed cross-origin; default GET, HEAD, POST, PUT, PATCH, DELETE.
	Methods []string `yaml:"methods"`
	// Headers the client may send; "*" allows any. Default: none beyond the safelisted ones.
	Headers []string `yaml:"headers"`
	// Expose lists response headers scripts may read.
	Expose []string `yaml:"expose"`
	// Credentials allows cookies/Authorization; not allowed with origin "*".
	Credentials bool `yaml:"credentials"`
	// MaxAge is how long a browser may cache a preflight; default 10m.
	MaxAge Duration `yaml:"max_age"`
}

// RouteLimits bound what a request on a route may send.
type RouteLimits struct {
	At `yaml:"-"`
	// MaxBodyBytes caps the request body; enforced from Content-Length at once and while
	// streaming otherwise (413). 0: no cap.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
}

// Auth lists the authentication methods of a route; any may succeed. At least one is required.
type Auth struct {
	At     `yaml:"-"`
	APIKey *APIKeyAuth `yaml:"api_key"`
	Basic  *BasicAuth  `yaml:"basic"`
	JWT    *JWTAuth    `yaml:"jwt"`
	MTLS   *MTLSAuth   `yaml:"mtls"`
}

// APIKeyAuth accepts the API keys of consumers, from a header or a query parameter.
type APIKeyAuth struct {
	At `yaml:"-"`
	// Header carrying the key; default "X-Api-Key" (unless only Query is set).
	Header string `yaml:"header"`
	// Query parameter carrying the key; "" (default): none. Keys in URLs end up in logs:
	// prefer the header.
	Query string `yaml:"query"`
}

// BasicAuth accepts consumers' Basic credentials.
type BasicAuth struct {
	At `yaml:"-"`
	// Realm is sent in the challenge; default "gantry".
	Realm string `yaml:"realm"`
}

// JWTAuth accepts bearer JWTs (RFC 7519) signed by one of Keys.
type JWTAuth struct {
	At `yaml:"-"`
	// Issuer, when set, must equal the iss claim.
	Issuer string `yaml:"issuer"`
	// Audiences, when set: the aud claim must hold one of them.
	Audiences []string `yaml:"audiences"`
	// Algorithms accepted; default: every algorithm that fits the configured keys
	// (HS256/384/512 only when a secret is configured). "none" is never accepted.
	Algorithms []string `yaml:"algorithms"`
	// Keys verify signatures; at least one.
	Keys []JWTKey `yaml:"keys"`
	// ClockSkew tolerated on exp, nbf and iat; default 30s.
	ClockSkew Duration `yaml:"clock_skew"`
	// ConsumerClaim names the claim holding the consumer name; default "sub". When it
	// names a configured consumer, that consumer's groups, scopes and meta apply.
	ConsumerClaim string `yaml:"consumer_claim"`
	// ForwardClaims sends claims upstream: claim name → header name. Client-supplied
	// copies of these headers are always removed.
	ForwardClaims map[string]string `yaml:"forward_claims"`
}

// JWTKey is one verification key: exactly one of File, PEM, Secret, JWKSURL.
type JWTKey struct {
	At `yaml:"-"`
	// KID, when set, restricts the key to tokens with this kid header (File, PEM, Secret).
	KID string `yaml:"kid"`
	// File is a PEM public key or certificate.
	File string `yaml:"file"`
	// PEM is an inline PEM public key or certificate.
	PEM string `yaml:"pem"`
	// Secret is an HMAC secret (HS256/384/512), at least 32 bytes; write it as ${ENV_VAR}.
	Secret string `yaml:"secret" json:"-"`
	// JWKSURL is an http(s) URL of a JWK Set (RFC 7517 section 5).
	JWKSURL string `yaml:"jwks_url"`
	// RefreshInterval re-fetches the JWK Set in the background; default 5m.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// UnknownKIDInterval bounds re-fetches caused by tokens with an unknown kid to one per
	// interval, so clients cannot make the gateway hammer the identity provider; default 30s.
	UnknownKIDInterval Duration `yaml:"unknown_kid_interval"`
}

// MTLSAuth accepts verified client certificates.
type MTLSAuth struct {
	At `yaml:"-"`
	// CAFile is a PEM bundle of CAs that client certificates must chain to; required. The
	// listener's tls.client_ca_file must accept the same certificates, else the handshake
	// does not ask for them.
	CAFile string `yaml:"ca_file"`
	// ConsumerFrom says which certificate name maps to a consumer: cn (default), san_dns or san_email.
	ConsumerFrom string `yaml:"consumer_from"`
}

// Certificate name sources (MTLSAuth.ConsumerFrom).
const (
	ConsumerFromCN       = "cn"
	ConsumerFromSANDNS   = "san_dns"
	ConsumerFromSANEmail = "san_email"
)

// Authz says who may use a route once authenticated; every given rule must hold.
type Authz struct {
	At `yaml:"-"`
	// Consumers, when set, lists the consumer names allowed.
	Consumers []string `yaml:"consumers"`
	// Scopes must all be granted (JWT scope/scp claim, or the consumer's scopes).
	Scopes []string `yaml:"scopes"`
	// Claims: claim name (dots reach into objects: "realm_access.roles") → allowed
	// values; the claim (or, for an array claim, one of its elements) must equal one.
	Claims map[string][]string `yaml:"claims"`
	// Groups allow/deny by consumer group.
	Groups *GroupRule `yaml:"groups"`
}

// GroupRule allows and denies consumer groups; deny wins.
type GroupRule struct {
	At `yaml:"-"`
	// Allow: when set, the consumer must be in one of these groups.
	Allow []string `yaml:"allow"`
	// Deny: a consumer in any of these groups is refused.
	Deny []string `yaml:"deny"`
}

// TLSOptions are the listener TLS settings beyond certificates and min version:
// client_ca_file, hsts, redirect_http. They are meant to become fields of TLS (same
// names and tags); until then internal/tlsconf takes them as a parameter.
type TLSOptions struct {
	At `yaml:"-"`
	// ClientCAFile is a PEM bundle; when set the listener asks for client certificates
	// and verifies those given (mTLS routes then map them to consumers).
	ClientCAFile string `yaml:"client_ca_file"`
	// HSTS adds Strict-Transport-Security to responses on this listener (RFC 6797).
	HSTS *HSTS `yaml:"hsts"`
	// RedirectHTTP is an address ("[host]:port") on which plain HTTP requests are
	// answered with a 308 redirect to this listener.
	RedirectHTTP string `yaml:"redirect_http"`
}

// HSTS configures the Strict-Transport-Security header.
type HSTS struct {
	At `yaml:"-"`
	// MaxAge; default 365 days (written as e.g. "8760h").
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains adds includeSubDomains.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload adds preload (needs IncludeSubdomains and MaxAge ≥ 1 year).
	Preload bool `yaml:"preload"`
}

// Security defaults.
const (
	DefaultConsumerHeader     = "X-Consumer"
	DefaultAPIKeyHeader       = "X-Api-Key"
	DefaultRealm              = "gantry"
	DefaultClockSkew          = Duration(30 * time.Second)
	DefaultConsumerClaim      = "sub"
	DefaultJWKSRefresh        = Duration(5 * time.Minute)
	DefaultUnknownKIDInterval = Duration(30 * time.Second)
	DefaultCORSMaxAge         = Duration(10 * time.Minute)
	DefaultHSTSMaxAge         = Duration(365 * 24 * time.Hour)
	// MinHMACSecret is the shortest HS secret accepted (RFC 7518 section 3.2 asks for a
	// key at least as long as the hash output; 32 bytes covers HS256).
	MinHMACSecret = 32
	// MinAPIKey is the shortest plain API key accepted.
	MinAPIKey = 16
)

// DefaultCORSMethods are the methods allowed cross-origin when CORS.Methods is empty.
var DefaultCORSMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// JWT algorithm families, by key type. HMAC algorithms need a secret; the others a public key.
var (
	JWTAlgorithmsHMAC = []string{"HS256", "HS384", "HS512"}
	JWTAlgorithmsRSA  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	JWTAlgorithmsEC   = []string{"ES256", "ES384", "ES512"}
	JWTAlgorithmsOKP  = []string{"EdDSA"}
)

// APIKeyHash returns the SHA-256 of a plain API key, the form the auth policy stores.
func APIKeyHash(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// KeyHashes returns the SHA-256 of every API key of the consumer: plain keys hashed,
// hex digests decoded. Entries that do not decode are skipped (validation reports them).
func (c *Consumer) KeyHashes() [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for _, k := range c.APIKeys {
		if k != "" {
			out = append(out, APIKeyHash(k))
		}
	}
	for _, h := range c.APIKeySHA256 {
		if d, ok := decodeSHA256Hex(h); ok {
			out = append(out, d)
		}
	}
	return out
}

func decodeSHA256Hex(s string) ([sha256.Size]byte, bool) {
	var d [sha256.Size]byte
	if len(s) != 2*sha256.Size {
		return d, false
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, false
	}
	return d, true
}

// ParsePrefixes parses CIDRs and bare addresses (as /32 or /128). IPv4-mapped IPv6
// addresses are unmapped so "::ffff:10.0.0.1" and "10.0.0.1" mean the same client.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix parses one CIDR or address; the prefix is masked (10.1.2.3/8 → 10.0.0.0/8).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address or CIDR %q", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// BuildError is a problem found while building a runtime part from a validated
// section (a key file that cannot be read, a PEM that does not parse). It carries the
// config position like a validation Problem.
type BuildError struct {
	Problem
	Err error
}

// Error renders "file:line:col: path: msg".
func (e *BuildError) Error() string { return e.Problem.String() }

// Unwrap returns the cause.
func (e *BuildError) Unwrap() error { return e.Err }

// FieldError returns a *BuildError about key of the mapping at a.
func FieldError(a At, key string, err error) error {
	return &BuildError{Problem: Problem{Pos: a.Field(key), Path: a.FieldPath(key), Msg: err.Error()}, Err: err}
}

// defaultSecurity fills defaults of the security sections.
func defaultSecurity(c *Config) {
	if c.Security.ConsumerHeader == "" {
		c.Security.ConsumerHeader = DefaultConsumerHeader
	}
	if c.Security.Path.EncodedSlashes == "" {
		c.Security.Path.EncodedSlashes = EncodedSlashesKeep
	}
	for name, cs := range c.Consumers {
		if cs == nil {
			continue
		}
		if cs.Name == "" {
			cs.Name = name
		}
		if cs.Basic != nil && cs.Basic.Username == "" {
			cs.Basic.Username = name
		}
	}
	for _, r := range c.Routes {
		if r == nil {
			continue
		}
		if r.CORS != nil {
			if len(r.CORS.Methods) == 0 {
				r.CORS.Methods = slices.Clone(DefaultCORSMethods)
			}
			if r.CORS.MaxAge == 0 {
				r.CORS.MaxAge = DefaultCORSMaxAge
			}
		}
		if r.Auth != nil {
			defaultAuth(r.Auth)
		}
	}
}

func defaultAuth(a *Auth) {
	if k := a.APIKey; k != nil && k.Header == "" && k.Query == "" {
		k.Header = DefaultAPIKeyHeader
	}
	if b := a.Basic; b != nil && b.Realm == "" {
		b.Realm = DefaultRealm
	}
	if j := a.JWT; j != nil {
		if j.ClockSkew == 0 {
			j.ClockSkew = DefaultClockSkew
		}
		if j.ConsumerClaim == "" {
			j.ConsumerClaim = DefaultConsumerClaim
		}
		for i := range j.Keys {
			k := &j.Keys[i]
			if k.JWKSURL == "" {
				continue
			}
			if k.RefreshInterval == 0 {
				k.RefreshInterval = DefaultJWKSRefresh
			}
			if k.UnknownKIDInterval == 0 {
				k.UnknownKIDInterval = DefaultUnknownKIDInterval
			}
		}
		if len(j.Algorithms) == 0 {
			j.Algorithms = defaultJWTAlgorithms(j.Keys)
		}
	}
	if m := a.MTLS; m != nil && m.ConsumerFrom == "" {
		m.ConsumerFrom = ConsumerFromCN
	}
}

// defaultJWTAlgorithms allows HMAC only when a secret is configured and public-key
// algorithms only when a public key or JWKS is, so a default never opens the
// HS-with-public-key confusion.
func defaultJWTAlgorithms(keys []JWTKey) []string {
	var sym, asym bool
	for _, k := range keys {
		if k.Secret != "" {
			sym = true
		} else {
			asym = true
		}
	}
	var out []string
	if sym {
		out = append(out, JWTAlgorithmsHMAC...)
	}
	if asym {
		out = append(out, JWTAlgorithmsRSA...)
		out = append(out, JWTAlgorithmsEC...)
		out = append(out, JWTAlgorithmsOKP...)
	}
	return out
}

// validateSecurity adds every problem of the security sections to ps.
func validateSecurity(c *Config, ps *Problems) {
	s := &c.Security
	if s.ConsumerHeader != "" && !validHeaderName(s.ConsumerHeader) {
		ps.AddField(s.At, "consumer_header", "invalid header name %q", s.ConsumerHeader)
	}
	validatePrefixes(s.At, "trusted_proxies", s.TrustedProxies, ps)
	switch s.Path.EncodedSlashes {
	case "", EncodedSlashesKeep, EncodedSlashesDecode, EncodedSlashesReject:
	default:
		ps.AddField(s.Path.At, "encoded_slashes", "unknown value %q (known: keep, decode, reject)", s.Path.EncodedSlashes)
	}
	validateConsumers(c, ps)
	for _, l := range sortedListeners(c.Listeners) {
		if l.IPFilter != nil {
			validateIPFilter(l.IPFilter, ps)
			if l.Protocol == ProtocolUDP {
				// Not enforced on UDP sessions yet: refusing it beats a filter that silently does nothing.
				ps.AddField(l.At, "ip_filter", "ip_filter is not supported on udp listeners")
			}
		}
	}
	for _, r := range c.Routes {
		if r == nil {
			continue
		}
		if r.IPFilter != nil {
			validateIPFilter(r.IPFilter, ps)
		}
		if r.CORS != nil {
			validateCORS(r.CORS, ps)
		}
		if r.Limits != nil && r.Limits.MaxBodyBytes < 0 {
			ps.AddField(r.Limits.At, "max_body_bytes", "must not be negative")
		}
		if r.Auth != nil {
			validateAuth(c, r.Auth, ps)
		}
		if r.Authz != nil {
			validateAuthz(c, r, ps)
		}
	}
}

func sortedListeners(m map[string]*Listener) []*Listener {
	names := make([]string, 0, len(m))
	for n, l := range m {
		if l != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]*Listener, 0, len(names))
	for _, n := range names {
		out = append(out, m[n])
	}
	return out
}

func sortedConsumers(m map[string]*Consumer) []*Consumer {
	names := make([]string, 0, len(m))
	for n, cs := range m {
		if cs != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]*Consumer, 0, len(names))
	for _, n := range names {
		out = append(out, m[n])
	}
	return out
}

func validatePrefixes(a At, key string, list []string, ps *Problems) {
	for i, s := range list {
		if _, err := ParsePrefix(s); err != nil {
			ps.Add(a.Field(key), fmt.Sprintf("%s[%d]", a.FieldPath(key), i), "%v", err)
		}
	}
}

func validateIPFilter(f *IPFilter, ps *Problems) {
	validatePrefixes(f.At, "allow", f.Allow, ps)
	validatePrefixes(f.At, "deny", f.Deny, ps)
	if len(f.Allow) == 0 && len(f.Deny) == 0 {
		ps.AddField(f.At, "allow", "ip_filter needs allow or deny")
	}
}

func validateConsumers(c *Config, ps *Problems) {
	type keyUse struct {
		consumer string
	}
	seenKeys := map[[sha256.Size]byte]keyUse{}
	seenUsers := map[string]string{}
	for _, cs := range sortedConsumers(c.Consumers) {
		for i, k := range cs.APIKeys {
			path := fmt.Sprintf("%s[%d]", cs.FieldPath("api_keys"), i)
			switch {
			case k == "":
				ps.Add(cs.Field("api_keys"), path, "empty API key (is the environment variable set?)")
				continue
			case len(k) < MinAPIKey:
				ps.Add(cs.Field("api_keys"), path, "API key shorter than %d bytes", MinAPIKey)
			}
			h := APIKeyHash(k)
			if u, ok := seenKeys[h]; ok {
				ps.Add(cs.Field("api_keys"), path, "API key already used by consumer %q", u.consumer)
				continue
			}
			seenKeys[h] = keyUse{cs.Name}
		}
		for i, hx := range cs.APIKeySHA256 {
			path := fmt.Sprintf("%s[%d]", cs.FieldPath("api_key_sha256"), i)
			h, ok := decodeSHA256Hex(strings.ToLower(hx))
			if !ok {
				ps.Add(cs.Field("api_key_sha256"), path, "not a hex SHA-256 digest (64 hex digits)")
				continue
			}
			if u, ok := seenKeys[h]; ok {
				ps.Add(cs.Field("api_key_sha256"), path, "API key already used by consumer %q", u.consumer)
				continue
			}
			seenKeys[h] = keyUse{cs.Name}
		}
		if b := cs.Basic; b != nil {
			if b.Username == "" || strings.Contains(b.Username, ":") {
				ps.AddField(b.At, "username", "username must be non-empty and hold no ':'")
			} else if other, ok := seenUsers[b.Username]; ok {
				ps.AddField(b.At, "username", "username %q already used by consumer %q", b.Username, other)
			} else {
				seenUsers[b.Username] = cs.Name
			}
			if err := CheckPasswordHash(b.PasswordHash); err != nil {
				ps.AddField(b.At, "password_hash", "%v", err)
			}
		}
		for i, g := range cs.Groups {
			if g == "" {
				ps.Add(cs.Field("groups"), fmt.Sprintf("%s[%d]", cs.FieldPath("groups"), i), "empty group name")
			}
		}
	}
}

// CheckPasswordHash reports whether h is a supported, well-formed password hash.
func CheckPasswordHash(h string) error {
	switch {
	case h == "":
		return fmt.Errorf("password_hash is required (bcrypt or argon2id; plain passwords are not accepted)")
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		// bcrypt: $2b$CC$ + 53 chars of bcrypt base64 (22 salt + 31 hash).
		if len(h) != 60 || h[6] != '$' {
			return fmt.Errorf("malformed bcrypt hash")
		}
		cost, err := strconv.Atoi(h[4:6])
		if err != nil || cost < 4 || cost > 31 {
			return fmt.Errorf("malformed bcrypt hash: bad cost")
		}
		for _, ch := range h[7:] {
			if !(ch == '.' || ch == '/' || ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9') {
				return fmt.Errorf("malformed bcrypt hash")
			}
		}
		return nil
	case strings.HasPrefix(h, "$argon2id$"):
		_, err := ParseArgon2id(h)
		return err
	}
	return fmt.Errorf("unsupported password hash (want bcrypt \"$2b$...\" or \"$argon2id$...\")")
}

// Argon2idHash is a parsed PHC-format argon2id hash.
type Argon2idHash struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	Salt    []byte
	Key     []byte
}

// ParseArgon2id parses "$argon2id$v=19$m=65536,t=3,p=2$SALT$HASH". Parameters are
// bounded (memory ≤ 1 GiB, time ≤ 16) so a config cannot make each login cost seconds.
func ParseArgon2id(h string) (Argon2idHash, error) {
	var out Argon2idHash
	bad := func(why string) (Argon2idHash, error) {
		return Argon2idHash{}, fmt.Errorf("malformed argon2id hash: %s", why)
	}
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[2] != "v=19" {
		return bad("version must be v=19")
	}
	var m, t, p uint64
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return bad("parameters")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameters")
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return bad("unknown parameter " + strconv.Quote(k))
		}
		seen++
	}
	if seen != 3 || m < 8 || m > 1<<20 || t < 1 || t > 16 || p < 1 || p > 255 {
		return bad("parameters out of range (m 8..1048576 KiB, t 1..16, p 1..255)")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return bad("salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return bad("hash")
	}
	out = Argon2idHash{Memory: uint32(m), Time: uint32(t), Threads: uint8(p), Salt: salt, Key: key}
	return out, nil
}

func validateCORS(c *CORS, ps *Problems) {
	if len(c.Origins) == 0 {
		ps.AddField(c.At, "origins", "cors needs at least one origin")
	}
	for i, o := range c.Origins {
		path := fmt.Sprintf("%s[%d]", c.FieldPath("origins"), i)
		if o == "*" {
			if c.Credentials {
				ps.Add(c.Field("origins"), path, "origin \"*\" cannot be combined with credentials: true (list the origins)")
			}
			continue
		}
		if err := CheckOrigin(o); err != nil {
			ps.Add(c.Field("origins"), path, "%v", err)
		}
	}
	for i, m := range c.Methods {
		if !validToken(m) || m != strings.ToUpper(m) {
			ps.Add(c.Field("methods"), fmt.Sprintf("%s[%d]", c.FieldPath("methods"), i), "invalid method %q (upper-case token)", m)
		}
	}
	for _, key := range []string{"headers", "expose"} {
		list := c.Headers
		if key == "expose" {
			list = c.Expose
		}
		for i, h := range list {
			if h == "*" && key == "headers" {
				continue
			}
			if !validHeaderName(h) {
				ps.Add(c.Field(key), fmt.Sprintf("%s[%d]", c.FieldPath(key), i), "invalid header name %q", h)
			}
		}
	}
	if c.MaxAge < 0 {
		ps.AddField(c.At, "max_age", "must not be negative")
	}
}

// CheckOrigin reports whether o is a serialised origin ("https://host[:port]"), allowing
// one leading wildcard label in the host ("https://*.example.com").
func CheckOrigin(o string) error {
	if o == "null" {
		return fmt.Errorf("origin \"null\" is not accepted (sandboxed documents and file: URLs share it)")
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ToLower(o) != o {
		return fmt.Errorf("invalid origin %q (want lower-case scheme://host[:port])", o)
	}
	host := u.Hostname()
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		host = rest
		if !strings.Contains(rest, ".") {
			return fmt.Errorf("wildcard origin %q must keep at least two labels after \"*.\"", o)
		}
	}
	if strings.Contains(host, "*") {
		return fmt.Errorf("invalid origin %q: only one leading \"*.\" label is allowed", o)
	}
	return nil
}

func validateAuth(c *Config, a *Auth, ps *Problems) {
	if a.APIKey == nil && a.Basic == nil && a.JWT == nil && a.MTLS == nil {
		ps.AddField(a.At, "api_key", "auth needs at least one method (api_key, basic, jwt, mtls)")
	}
	if k := a.APIKey; k != nil {
		if k.Header != "" && !validHeaderName(k.Header) {
			ps.AddField(k.At, "header", "invalid header name %q", k.Header)
		}
		if k.Query != "" && strings.ContainsAny(k.Query, "&=#? ") {
			ps.AddField(k.At, "query", "invalid query parameter name %q", k.Query)
		}
		if !anyConsumer(c, func(cs *Consumer) bool { return len(cs.APIKeys)+len(cs.APIKeySHA256) > 0 }) {
			ps.AddField(a.At, "api_key", "no consumer has api_keys or api_key_sha256")
		}
	}
	if b := a.Basic; b != nil {
		if strings.ContainsAny(b.Realm, "\"\\\r\n") {
			ps.AddField(b.At, "realm", "realm must not hold quotes, backslashes or line breaks")
		}
		if !anyConsumer(c, func(cs *Consumer) bool { return cs.Basic != nil }) {
			ps.AddField(a.At, "basic", "no consumer has a basic credential")
		}
	}
	if j := a.JWT; j != nil {
		validateJWT(c, j, ps)
	}
	if m := a.MTLS; m != nil {
		if m.CAFile == "" {
			ps.AddField(m.At, "ca_file", "mtls needs ca_file")
		}
		switch m.ConsumerFrom {
		case "", ConsumerFromCN, ConsumerFromSANDNS, ConsumerFromSANEmail:
		default:
			ps.AddField(m.At, "consumer_from", "unknown value %q (known: cn, san_dns, san_email)", m.ConsumerFrom)
		}
	}
}

func anyConsumer(c *Config, f func(*Consumer) bool) bool {
	for _, cs := range c.Consumers {
		if cs != nil && f(cs) {
			return true
		}
	}
	return false
}

func validateJWT(c *Config, j *JWTAuth, ps *Problems) {
	if len(j.Keys) == 0 {
		ps.AddField(j.At, "keys", "jwt needs at least one key (file, pem, secret or jwks_url)")
	}
	var sym, asym bool
	for i := range j.Keys {
		k := &j.Keys[i]
		n := 0
		for _, v := range []string{k.File, k.PEM, k.Secret, k.JWKSURL} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			ps.Add(k.Pos, k.Path, "a key needs exactly one of file, pem, secret, jwks_url")
			continue
		}
		switch {
		case k.Secret != "":
			sym = true
			if len(k.Secret) < MinHMACSecret {
				ps.AddField(k.At, "secret", "HMAC secret shorter than %d bytes", MinHMACSecret)
			}
		case k.JWKSURL != "":
			asym = true
			u, err := url.Parse(k.JWKSURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				ps.AddField(k.At, "jwks_url", "jwks_url must be an http(s) URL")
			}
			if k.KID != "" {
				ps.AddField(k.At, "kid", "kid cannot be set on a jwks_url key (the set names its keys)")
			}
			if k.RefreshInterval < 0 || (k.RefreshInterval > 0 && k.RefreshInterval.D() < time.Second) {
				ps.AddField(k.At, "refresh_interval", "must be at least 1s")
			}
			if k.UnknownKIDInterval < 0 || (k.UnknownKIDInterval > 0 && k.UnknownKIDInterval.D() < time.Second) {
				ps.AddField(k.At, "unknown_kid_interval", "must be at least 1s")
			}
		default:
			asym = true
		}
	}
	for i, alg := range j.Algorithms {
		path := fmt.Sprintf("%s[%d]", j.FieldPath("algorithms"), i)
		switch {
		case strings.EqualFold(alg, "none"):
			ps.Add(j.Field("algorithms"), path, "algorithm \"none\" is never accepted")
		case slices.Contains(JWTAlgorithmsHMAC, alg):
			if !sym && len(j.Keys) > 0 {
				ps.Add(j.Field("algorithms"), path, "algorithm %s needs a secret key", alg)
			}
		case slices.Contains(JWTAlgorithmsRSA, alg), slices.Contains(JWTAlgorithmsEC, alg), slices.Contains(JWTAlgorithmsOKP, alg):
			if !asym && len(j.Keys) > 0 {
				ps.Add(j.Field("algorithms"), path, "algorithm %s needs a public key (file, pem or jwks_url)", alg)
			}
		default:
			ps.Add(j.Field("algorithms"), path, "unknown algorithm %q (known: %s)", alg, strings.Join(allJWTAlgorithms(), ", "))
		}
	}
	if j.ClockSkew < 0 || j.ClockSkew.D() > 10*time.Minute {
		ps.AddField(j.At, "clock_skew", "must be between 0 and 10m")
	}
	claims := make([]string, 0, len(j.ForwardClaims))
	for cl := range j.ForwardClaims {
		claims = append(claims, cl)
	}
	sort.Strings(claims)
	hdrs := map[string]bool{}
	for _, cl := range claims {
		h := j.ForwardClaims[cl]
		if !validHeaderName(h) {
			ps.AddField(j.At, "forward_claims", "claim %q: invalid header name %q", cl, h)
			continue
		}
		ch := strings.ToLower(h)
		if hdrs[ch] {
			ps.AddField(j.At, "forward_claims", "header %q is used twice", h)
		}
		if strings.EqualFold(h, c.Security.ConsumerHeader) || strings.EqualFold(h, "Authorization") {
			ps.AddField(j.At, "forward_claims", "claim %q: header %q is reserved", cl, h)
		}
		hdrs[ch] = true
	}
}

func allJWTAlgorithms() []string {
	var out []string
	out = append(out, JWTAlgorithmsHMAC...)
	out = append(out, JWTAlgorithmsRSA...)
	out = append(out, JWTAlgorithmsEC...)
	return append(out, JWTAlgorithmsOKP...)
}

func validateAuthz(c *Config, r *Route, ps *Problems) {
	z := r.Authz
	if r.Auth == nil {
		ps.AddField(r.At, "authorize", "authorize needs auth on the same route")
	}
	for i, n := range z.Consumers {
		if cs, ok := c.Consumers[n]; !ok || cs == nil {
			ps.Add(z.Field("consumers"), fmt.Sprintf("%s[%d]", z.FieldPath("consumers"), i),
				"unknown consumer %q (known: %s)", n, strings.Join(consumerNames(c), ", "))
		}
	}
	for i, s := range z.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			ps.Add(z.Field("scopes"), fmt.Sprintf("%s[%d]", z.FieldPath("scopes"), i), "invalid scope %q", s)
		}
	}
	for name, vals := range z.Claims {
		if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			ps.AddField(z.At, "claims", "invalid claim name %q", name)
		}
		if len(vals) == 0 {
			ps.AddField(z.At, "claims", "claim %q needs at least one allowed value", name)
		}
	}
	if g := z.Groups; g != nil && len(g.Allow) == 0 && len(g.Deny) == 0 {
		ps.AddField(g.At, "allow", "groups needs allow or deny")
	}
	if len(z.Consumers) == 0 && len(z.Scopes) == 0 && len(z.Claims) == 0 && z.Groups == nil {
		ps.AddField(r.At, "authorize", "authorize needs at least one rule (consumers, scopes, claims, groups)")
	}
}

func consumerNames(c *Config) []string {
	out := make([]string, 0, len(c.Consumers))
	for n := range c.Consumers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// validToken reports whether s is an RFC 9110 token (header names, methods).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func validHeaderName(s string) bool { return validToken(s) }

// validateTLSOptions adds the problems of TLS options to ps. The lead calls it once the
// fields live on TLS.
func validateTLSOptions(o *TLSOptions, ps *Problems) {
	if o == nil {
		return
	}
	if h := o.HSTS; h != nil {
		if h.MaxAge < 0 {
			ps.AddField(h.At, "max_age", "must not be negative")
		}
		if h.Preload && (!h.IncludeSubdomains || (h.MaxAge != 0 && h.MaxAge < DefaultHSTSMaxAge)) {
			ps.AddField(h.At, "preload", "preload needs include_subdomains and max_age of at least 8760h")
		}
	}
	if o.RedirectHTTP != "" {
		if _, err := netip.ParseAddrPort(o.RedirectHTTP); err != nil && !strings.HasPrefix(o.RedirectHTTP, ":") {
			if i := strings.LastIndexByte(o.RedirectHTTP, ':'); i <= 0 {
				ps.AddField(o.At, "redirect_http", "want host:port or :port")
			}
		}
	}
}

// ValidateTLSOptions returns the problems of o (for internal/tlsconf until the fields live on TLS).
func ValidateTLSOptions(o *TLSOptions) []Problem {
	var ps Problems
	validateTLSOptions(o, &ps)
	return ps.List
}

// CheckSecurity applies the security defaults to c and returns the problems of its
// security sections only, as Load does for the whole file. For tests and tools that
// build a Config in Go.
func CheckSecurity(c *Config) []Problem {
	defaultSecurity(c)
	var ps Problems
	validateSecurity(c, &ps)
	return ps.List
}
