package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/observe"
)

// Inspection: read-only views of the running gateway for the admin API, plus Drain.
// Everything here runs on admin requests, never on the request path: it may allocate,
// and it reads the current snapshot once per call.

// Errors of the inspection API; the admin API maps them to 404.
var (
	ErrUnknownListener = errors.New("unknown listener")
	ErrUnknownUpstream = errors.New("unknown upstream")
	ErrUnknownTarget   = errors.New("unknown target")
)

// Status is the gateway's identity and health as GET /api/v1/status shows it.
type Status struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	// Started is when the first config was loaded; Uptime counts from it.
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// ConfigHash is the hash of the running config, ConfigSource its file ("" if embedded).
	ConfigHash   string `json:"config_hash"`
	ConfigSource string `json:"config_source,omitempty"`
	// SnapshotBuilt is when the running snapshot was published.
	SnapshotBuilt time.Time `json:"snapshot_built"`
	// Reload is the outcome of the latest load or reload attempt.
	Reload    observe.ReloadStatus `json:"reload"`
	Listeners []ListenerInfo       `json:"listeners"`
}

// ListenerInfo is one listener: configured and bound address.
type ListenerInfo struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	// Bound is the address the socket is bound to (the real port when Address asks for 0).
	Bound string `json:"bound"`
	TLS   bool   `json:"tls,omitempty"`
}

// Status returns the gateway's status. It takes the reload mutex briefly (to read the
// bound addresses), so it waits for a reload in progress.
func (g *Gateway) Status() Status {
	s := g.snap.Load()
	st := Status{
		Version:       g.opts.Version,
		GoVersion:     runtime.Version(),
		ConfigHash:    s.Config.Hash,
		ConfigSource:  s.Config.Source,
		SnapshotBuilt: s.Built,
		Reload:        g.metrics.ReloadStatus(),
	}
	if st.Version == "" {
		st.Version = "unknown"
	}
	st.Started = st.Reload.FirstLoad
	if !st.Started.IsZero() {
		st.UptimeSeconds = time.Since(st.Started).Seconds()
	}
	g.mu.Lock()
	for _, name := range slices.Sorted(maps.Keys(g.listeners)) {
		l := g.listeners[name]
		st.Listeners = append(st.Listeners, ListenerInfo{
			Name: name, Protocol: l.cfg.Protocol, Address: l.cfg.Address, Bound: l.addr().String(), TLS: l.cfg.TLS != nil,
		})
	}
	g.mu.Unlock()
	return st
}

// RouteInfo is one route on one listener as GET /api/v1/routes shows it.
type RouteInfo struct {
	Listener string `json:"listener"`
	Name     string `json:"name"`
	// Match is a one-line summary of the match conditions.
	Match    string `json:"match"`
	Upstream string `json:"upstream"`
	// Policies are the route's policies in the order they run.
	Policies []string `json:"policies"`
	// Rewrite summarises the rewrite ("" for none).
	Rewrite string `json:"rewrite,omitempty"`
}

// Routes lists the routes of every http listener, listeners by name and routes in
// config order within each.
func (g *Gateway) Routes() []RouteInfo {
	s := g.snap.Load()
	var out []RouteInfo
	for _, lname := range slices.Sorted(maps.Keys(s.http)) {
		for _, r := range s.http[lname].routes {
			out = append(out, RouteInfo{
				Listener: lname,
				Name:     r.cfg.Name,
				Match:    MatchSummary(&r.cfg.Match),
				Upstream: r.cfg.Upstream,
				Policies: nonNil(r.chain.Names()),
				Rewrite:  rewriteSummary(r.cfg.Rewrite),
			})
		}
	}
	return out
}

// UpstreamInfo is one upstream as GET /api/v1/upstreams shows it.
type UpstreamInfo struct {
	Name    string `json:"name"`
	Balance string `json:"balance"`
	HashKey string `json:"hash_key,omitempty"`
	// Health is the active check type ("" without active checks); Outlier tells whether
	// passive health is on.
	Health  string `json:"health,omitempty"`
	Outlier bool   `json:"outlier,omitempty"`
	// Panicking is true when too few targets are healthy and all take traffic.
	Panicking bool         `json:"panicking,omitempty"`
	Targets   []TargetInfo `json:"targets"`
}

// TargetInfo is a target's live state plus a one-word summary of it.
type TargetInfo struct {
	balancer.TargetStatus
	// State is "drained", "ejected", "unhealthy" or "healthy", the first that applies.
	State string `json:"state"`
}

// Target states (TargetInfo.State).
const (
	TargetHealthy   = "healthy"
	TargetUnhealthy = "unhealthy"
	TargetEjected   = "ejected"
	TargetDrained   = "drained"
)

// Upstreams lists every upstream by name with its targets in config order.
func (g *Gateway) Upstreams() []UpstreamInfo {
	s := g.snap.Load()
	out := make([]UpstreamInfo, 0, len(s.upstreams))
	for _, name := range slices.Sorted(maps.Keys(s.upstreams)) {
		u := s.upstreams[name]
		ui := UpstreamInfo{Name: name, Balance: u.cfg.Balance, HashKey: u.cfg.HashKey, Outlier: u.cfg.Outlier != nil, Panicking: u.set.Panicking()}
		if u.cfg.Health != nil {
			ui.Health = u.cfg.Health.Type
		}
		for _, ts := range u.set.Status() {
			ui.Targets = append(ui.Targets, TargetInfo{TargetStatus: ts, State: targetState(ts)})
		}
		out = append(out, ui)
	}
	return out
}

func targetState(ts balancer.TargetStatus) string {
	switch {
	case ts.Drained:
		return TargetDrained
	case !ts.EjectedUntil.IsZero():
		return TargetEjected
	case !ts.Healthy:
		return TargetUnhealthy
	}
	return TargetHealthy
}

// Drain stops (on) or resumes (!on) new requests to one target of an upstream; requests
// in flight finish. The flag lives in the target's state, so it survives reloads that
// keep the target. It returns ErrUnknownUpstream or ErrUnknownTarget (wrapped).
func (g *Gateway) Drain(upstream, targetURL string, on bool) error {
	u := g.snap.Load().upstreams[upstream]
	if u == nil {
		return fmt.Errorf("drain %s: %w", upstream, ErrUnknownUpstream)
	}
	if !u.set.Drain(targetURL, on) {
		return fmt.Errorf("drain %s in %s: %w", targetURL, upstream, ErrUnknownTarget)
	}
	return nil
}

// ConfigJSON returns the running config as indented JSON in the YAML's shape (snake_case
// keys, durations as strings), with secrets replaced by "[redacted]" (see RedactConfig).
func (g *Gateway) ConfigJSON() ([]byte, error) {
	return RedactConfig(g.snap.Load().Config)
}

// Redacted is what replaces a secret in RedactConfig's output.
const Redacted = "[redacted]"

// secretFields are the config keys whose values are secrets, by the struct that holds
// them. A new secret field must be added here; TestConfigJSONRedacts checks each.
var secretFields = map[reflect.Type]map[string]bool{
	reflect.TypeFor[config.Admin]():           {"token": true},
	reflect.TypeFor[config.Consumer]():        {"api_keys": true, "api_key_sha256": true},
	reflect.TypeFor[config.BasicCredential](): {"password_hash": true},
	reflect.TypeFor[config.JWTKey]():          {"secret": true, "pem": true},
	reflect.TypeFor[config.Tracing]():         {"headers": true},
}

// RedactConfig renders cfg as indented JSON in the YAML's shape: keys as in the YAML
// file in declaration order, map entries by sorted key, durations as Go duration
// strings; nil, empty and unset values are left out. Secret values (admin token, API
// keys and their hashes, Basic password hashes, JWT secrets and PEM keys, tracing
// headers) become "[redacted]", and so does the password of any URL with userinfo.
func RedactConfig(cfg *config.Config) ([]byte, error) {
	v, _ := redactValue(reflect.ValueOf(cfg), false)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return buf.Bytes(), nil
}

// object is a JSON object that keeps its keys in order.
type object []field

type field struct {
	key string
	val any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.val); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

var (
	durationType = reflect.TypeFor[config.Duration]()
	sizeType     = reflect.TypeFor[config.Size]()
)

// redactValue converts v to plain JSON values; secret replaces every leaf by Redacted.
// ok is false for values to leave out (nil, empty).
func redactValue(v reflect.Value, secret bool) (any, bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return redactValue(v.Elem(), secret)
	}
	switch v.Type() {
	case durationType:
		if secret {
			return Redacted, true
		}
		return time.Duration(v.Int()).String(), true
	case sizeType:
		if secret {
			return Redacted, true
		}
		return v.Int(), true
	}
	switch v.Kind() {
	case reflect.Struct:
		var o object
		secrets := secretFields[v.Type()]
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if !sf.IsExported() || key == "-" || key == "" {
				continue
			}
			if fv, ok := redactValue(v.Field(i), secret || secrets[key]); ok {
				o = append(o, field{key, fv})
			}
		}
		if len(o) == 0 {
			return nil, false
		}
		return o, true
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			return nil, false
		}
		out := make([]any, 0, v.Len())
		for i := range v.Len() {
			if ev, ok := redactValue(v.Index(i), secret); ok {
				out = append(out, ev)
			} else {
				out = append(out, nil)
			}
		}
		return out, true
	case reflect.Map:
		if v.Len() == 0 {
			return nil, false
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		var o object
		for _, k := range keys {
			if ev, ok := redactValue(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), secret); ok {
				o = append(o, field{k, ev})
			}
		}
		return o, true
	case reflect.String:
		s := v.String()
		if s == "" {
			return nil, false
		}
		if secret {
			return Redacted, true
		}
		return redactURL(s), true
	case reflect.Bool:
		if secret {
			return Redacted, true
		}
		return v.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if secret {
			return Redacted, true
		}
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if secret {
			return Redacted, true
		}
		return v.Uint(), true
	case reflect.Float32, reflect.Float64:
		if secret {
			return Redacted, true
		}
		return v.Float(), true
	}
	return nil, false
}

// redactURL hides the password of a URL with userinfo (an OTLP endpoint, a JWKS URL or
// a target written as http://user:pass@host).
func redactURL(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Redacted)
		return strings.Replace(u.String(), url.QueryEscape(Redacted), Redacted, 1)
	}
	return s
}

// MatchSummary renders a route's match conditions on one line, e.g.
// "hosts=api.example.com path=/api/* methods=GET,POST header:X-Canary=1".
func MatchSummary(m *config.Match) string {
	var parts []string
	if len(m.Hosts) > 0 {
		parts = append(parts, "hosts="+strings.Join(m.Hosts, ","))
	}
	switch {
	case m.Path != "":
		parts = append(parts, "path="+m.Path)
	case m.PathRegex != "":
		parts = append(parts, "path_regex="+m.PathRegex)
	default:
		parts = append(parts, "path=/*")
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods="+strings.Join(m.Methods, ","))
	}
	for _, kv := range []struct {
		kind string
		m    map[string]config.ValueMatch
	}{{"header", m.Headers}, {"query", m.Query}, {"body", m.Body}} {
		for _, name := range slices.Sorted(maps.Keys(kv.m)) {
			parts = append(parts, kv.kind+":"+name+valueMatchSummary(kv.m[name]))
		}
	}
	return strings.Join(parts, " ")
}

// valueMatchSummary renders "=v", "~regex" or " present"/" absent".
func valueMatchSummary(v config.ValueMatch) string {
	switch {
	case v.Exact != nil:
		return "=" + *v.Exact
	case v.Regex != "":
		return "~" + v.Regex
	case v.Present != nil && !*v.Present:
		return " absent"
	}
	return " present"
}

func rewriteSummary(rw *config.Rewrite) string {
	if rw == nil {
		return ""
	}
	var parts []string
	if rw.StripPrefix != "" {
		parts = append(parts, "strip_prefix="+rw.StripPrefix)
	}
	if rw.Path != "" {
		parts = append(parts, "path="+rw.Path)
	}
	if rw.Host != "" {
		parts = append(parts, "host="+rw.Host)
	}
	return strings.Join(parts, " ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
