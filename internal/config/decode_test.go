package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown top-level key lists the known ones",
			src:  minimal + "logs: {level: debug}\n",
			want: []string{`gantry.yaml:10:1: unknown field "logs" (known: listeners, upstreams, routes, admin, log, consumers, security, observe)`},
		},
		{
			name: "misspelt route key",
			src: `listeners:
  web:
    address: ":8080"
upstreams:
  api:
    targets: ["http://127.0.0.1:9001"]
routes:
  - name: r
    upstrem: api
`,
			want: []string{
				`gantry.yaml:8:5: routes[0].upstream: upstream is required`,
				`gantry.yaml:9:5: routes[0]: unknown field "upstrem" (known: name, listeners, match, upstream, rewrite, timeouts, retries, limits, ip_filter, cors, auth, authorize)`,
			},
		},
		{
			name: "list expected",
			src: `listeners:
  web:
    address: ":8080"
upstreams:
  api:
    targets: {url: "http://127.0.0.1:9001"}
routes:
  - name: r
    upstream: api
`,
			want: []string{`gantry.yaml:6:14: upstreams.api.targets: expected a list, got a mapping`},
		},
		{
			name: "mapping expected",
			src:  "listeners: [web]\n",
			want: []string{`gantry.yaml:1:12: listeners: expected a mapping, got a list`},
		},
		{
			name: "integer expected",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    limits: {max_connections: lots}", 1),
			want: []string{`gantry.yaml:4:31: listeners.web.limits.max_connections: expected an integer, got "lots"`},
		},
		{
			name: "boolean expected",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    proxy_protocol: yes", 1),
			want: []string{`gantry.yaml:4:21: listeners.web.proxy_protocol: expected a boolean (true or false), got "yes"`},
		},
		{
			name: "string expected",
			src:  strings.Replace(minimal, `address: ":8080"`, `address: [":8080"]`, 1),
			want: []string{`gantry.yaml:3:14: listeners.web.address: expected a string, got a list`},
		},
		{
			name: "invalid duration",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    timeouts: {idle: 5 seconds}", 1),
			want: []string{`gantry.yaml:4:22: listeners.web.timeouts.idle: invalid duration "5 seconds" (write e.g. 300ms, 1.5s, 2m, 1h)`},
		},
		{
			name: "negative duration",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    timeouts: {idle: -1s}", 1),
			want: []string{`gantry.yaml:4:22: listeners.web.timeouts.idle: duration "-1s" must not be negative`},
		},
		{
			name: "duration without unit",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    timeouts: {idle: 30}", 1),
			want: []string{`gantry.yaml:4:22: listeners.web.timeouts.idle: duration "30" needs a unit, e.g. 30s or 30ms`},
		},
		{
			name: "unknown size unit",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    limits: {max_header_bytes: 64XB}", 1),
			want: []string{`gantry.yaml:4:32: listeners.web.limits.max_header_bytes: unknown size unit "XB" in "64XB" (known: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)`},
		},
		{
			name: "negative size",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    limits: {max_header_bytes: -5}", 1),
			want: []string{`gantry.yaml:4:32: listeners.web.limits.max_header_bytes: size "-5" must not be negative`},
		},
		{
			name: "duplicate key",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    address: \":8081\"", 1),
			want: []string{`gantry.yaml:4:5: listeners.web: duplicate key "address" (first at line 3)`},
		},
		{
			name: "duplicate map entry",
			src:  strings.Replace(minimal, `":8080"`+"\n", `":8080"`+"\n  web:\n    address: \":8081\"\n", 1),
			want: []string{`gantry.yaml:4:3: listeners: duplicate key "web" (first at line 2)`},
		},
		{
			name: "two documents",
			src:  minimal + "---\nlog: {level: debug}\n",
			want: []string{`gantry.yaml:10:1: more than one YAML document (one config file holds one document; remove the "---" separator)`},
		},
		{
			name: "empty file",
			src:  "",
			want: []string{`gantry.yaml:1:1: config is empty (expected a mapping with at least listeners, upstreams and routes)`},
		},
		{
			name: "only comments",
			src:  "# nothing yet\n\n",
			want: []string{`gantry.yaml:1:1: config is empty (expected a mapping with at least listeners, upstreams and routes)`},
		},
		{
			name: "not a mapping",
			src:  "hello\n",
			want: []string{`gantry.yaml:1:1: expected a mapping, got a string ("hello")`},
		},
		{
			name: "yaml syntax error carries the line",
			src:  "listeners:\n  web: [\"a\",\n",
			want: []string{`gantry.yaml:2: invalid YAML: did not find expected node content`},
		},
		{
			name: "self-referencing anchor",
			src:  "listeners: &l\n  web: *l\n",
			want: []string{`gantry.yaml:2:8: listeners.web: alias *l refers to itself`},
		},
		{
			name: "non-string key",
			src:  strings.Replace(minimal, "  web:\n", "  [web]:\n", 1),
			want: []string{`gantry.yaml:2:3: listeners: expected a string key, got a list`},
		},
		{
			name: "merge of a scalar",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    <<: 5\n", 1),
			want: []string{`gantry.yaml:6:9: upstreams.api: merge key "<<" expects a mapping or a list of mappings, got a number`},
		},
		{
			name: "short-form target of the wrong kind",
			src:  strings.Replace(minimal, `["http://127.0.0.1:9001"]`, `[["http://127.0.0.1:9001"]]`, 1),
			want: []string{`gantry.yaml:6:15: upstreams.api.targets[0]: expected a mapping, got a list`},
		},
		{
			name: "decode keeps going after a problem",
			src: `listeners:
  web:
    address: ":8080"
    limits: {max_connections: x}
    timeouts: {idle: y}
upstreams:
  api:
    targets: ["http://127.0.0.1:9001"]
    weight: 2
routes:
  - name: r
    upstream: api
`,
			want: []string{
				`gantry.yaml:4:31: listeners.web.limits.max_connections: expected an integer, got "x"`,
				`gantry.yaml:5:22: listeners.web.timeouts.idle: invalid duration "y" (write e.g. 300ms, 1.5s, 2m, 1h)`,
				`gantry.yaml:9:5: upstreams.api: unknown field "weight" (known: balance, hash_key, targets, timeouts, health, outlier, retries, circuit_breaker, proxy_protocol)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkLines(t, problemLines(t, tt.src, nil), tt.want)
		})
	}
}

func TestDecodeShortFormsAndPositions(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `listeners:
  web:
    address: ":8080"
upstreams:
  api:
    targets:
      - http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
        weight: 3
routes:
  - name: r
    upstream: api
    match:
      headers:
        X-Env: prod
        X-Debug: {present: true}
`)
	web := c.Listeners["web"]
	if web.Name != "web" {
		t.Errorf("Listeners[web].Name = %q, want web", web.Name)
	}
	up := c.Upstreams["api"]
	if up.Name != "api" {
		t.Errorf("Upstreams[api].Name = %q, want api", up.Name)
	}
	if got := up.Targets[0]; got.URL != "http://127.0.0.1:9001" || got.Weight != 1 {
		t.Errorf("Targets[0] = %q weight %d, want http://127.0.0.1:9001 weight 1", got.URL, got.Weight)
	}
	if got := up.Targets[1]; got.URL != "http://127.0.0.1:9002" || got.Weight != 3 {
		t.Errorf("Targets[1] = %q weight %d, want http://127.0.0.1:9002 weight 3", got.URL, got.Weight)
	}
	h := c.Routes[0].Match.Headers
	if h["X-Env"].Exact == nil || *h["X-Env"].Exact != "prod" {
		t.Errorf("Headers[X-Env].Exact = %v, want prod", h["X-Env"].Exact)
	}
	if h["X-Debug"].Present == nil || !*h["X-Debug"].Present {
		t.Errorf("Headers[X-Debug].Present = %v, want true", h["X-Debug"].Present)
	}

	positions := []struct {
		name     string
		got      Pos
		path     string
		want     Pos
		wantPath string
	}{
		{name: "route", got: c.Routes[0].Pos, path: c.Routes[0].Path, want: Pos{"gantry.yaml", 11, 5}, wantPath: "routes[0]"},
		{name: "route upstream", got: c.Routes[0].Field("upstream"), path: c.Routes[0].FieldPath("upstream"), want: Pos{"gantry.yaml", 12, 15}, wantPath: "routes[0].upstream"},
		{name: "absent key falls back to mapping", got: c.Routes[0].Field("rewrite"), path: c.Routes[0].FieldPath("rewrite"), want: Pos{"gantry.yaml", 11, 5}, wantPath: "routes[0].rewrite"},
		{name: "match", got: c.Routes[0].Match.Pos, path: c.Routes[0].Match.At.Path, want: Pos{"gantry.yaml", 14, 7}, wantPath: "routes[0].match"},
		{name: "short-form target", got: up.Targets[0].Pos, path: up.Targets[0].Path, want: Pos{"gantry.yaml", 7, 9}, wantPath: "upstreams.api.targets[0]"},
		{name: "mapping target weight", got: up.Targets[1].Field("weight"), path: up.Targets[1].FieldPath("weight"), want: Pos{"gantry.yaml", 9, 17}, wantPath: "upstreams.api.targets[1].weight"},
		{name: "target item", got: up.Item("targets", 1), path: up.ItemPath("targets", 1), want: Pos{"gantry.yaml", 8, 9}, wantPath: "upstreams.api.targets[1]"},
		{name: "header entry", got: c.Routes[0].Match.Entry("headers", "X-Debug"), path: c.Routes[0].Match.EntryPath("headers", "X-Debug"), want: Pos{"gantry.yaml", 16, 18}, wantPath: "routes[0].match.headers.X-Debug"},
		{name: "short-form value match", got: h["X-Env"].Pos, path: h["X-Env"].Path, want: Pos{"gantry.yaml", 15, 16}, wantPath: "routes[0].match.headers.X-Env"},
		{name: "listener", got: web.Pos, path: web.Path, want: Pos{"gantry.yaml", 3, 5}, wantPath: "listeners.web"},
	}
	for _, p := range positions {
		if p.got != p.want || p.path != p.wantPath {
			t.Errorf("%s: position = %v %q, want %v %q", p.name, p.got, p.path, p.want, p.wantPath)
		}
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `listeners:
  web:
    address: ":8080"
upstreams:
  api: &base
    balance: least_request
    timeouts: {connect: 1s}
    targets: ["http://127.0.0.1:9001"]
  shop:
    <<: *base
    targets: ["http://127.0.0.1:9002"]
routes:
  - name: r
    upstream: api
  - name: s
    upstream: shop
`)
	shop := c.Upstreams["shop"]
	if shop.Balance != BalanceLeastRequest || shop.Timeouts.Connect.D() != time.Second {
		t.Errorf("shop balance %q connect %v, want least_request 1s (merged)", shop.Balance, shop.Timeouts.Connect.D())
	}
	if len(shop.Targets) != 1 || shop.Targets[0].URL != "http://127.0.0.1:9002" {
		t.Errorf("shop targets = %+v, want the explicit one only", shop.Targets)
	}
	if shop.Name != "shop" {
		t.Errorf("shop.Name = %q, want shop", shop.Name)
	}
}

func TestDecodeNullLeavesDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, strings.Replace(minimal, `":8080"`, `":8080"`+"\n    protocol:\n    timeouts: ~", 1))
	web := c.Listeners["web"]
	if web.Protocol != ProtocolHTTP || web.Timeouts.Idle.D() != DefaultIdleTimeout {
		t.Errorf("protocol %q idle %v, want http %v", web.Protocol, web.Timeouts.Idle.D(), DefaultIdleTimeout)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "1.5s", want: 1500 * time.Millisecond},
		{in: "300ms", want: 300 * time.Millisecond},
		{in: "2m", want: 2 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "0s", want: 0},
		{in: "10", wantErr: `duration "10" needs a unit, e.g. 10s or 10ms`},
		{in: "-2s", wantErr: `duration "-2s" must not be negative`},
		{in: "soon", wantErr: `invalid duration "soon" (write e.g. 300ms, 1.5s, 2m, 1h)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseDuration(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "512B", want: 512},
		{in: "64KiB", want: 64 << 10},
		{in: "1MiB", want: 1 << 20},
		{in: "10MB", want: 10_000_000},
		{in: "2GiB", want: 2 << 30},
		{in: "3 KB", want: 3000},
		{in: "1TiB", want: 1 << 40},
		{in: "1.5MiB", wantErr: `invalid size "1.5MiB" (write e.g. 512, 512B, 64KiB, 1MiB, 10MB, 2GiB)`},
		{in: "64kib", wantErr: `unknown size unit "kib" in "64kib" (known: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)`},
		{in: "-1", wantErr: `size "-1" must not be negative`},
		{in: "99999999999TiB", wantErr: `size "99999999999TiB" is too large`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseSize(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

// extTypes are field types the security and observe sections may use.
type extTypes struct {
	At     `yaml:"-"`
	Ratio  float64          `yaml:"ratio"`
	Count  uint16           `yaml:"count"`
	CIDRs  []netip.Prefix   `yaml:"cidrs"`
	Lists  map[string][]int `yaml:"lists"`
	Custom custom           `yaml:"custom"`
}

// custom implements yaml.Unmarshaler.
type custom struct{ tag string }

func (c *custom) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "bad" {
		return errors.New("custom says no")
	}
	c.tag = n.Tag
	return nil
}

func decodeExt(t *testing.T, src string) (extTypes, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	ps := &Problems{}
	d := &decoder{file: "x.yaml", ps: ps, env: lookupMap(map[string]string{"R": "0.25"}), failed: map[string]bool{}, active: map[*yaml.Node]bool{}}
	var v extTypes
	d.decode(doc.Content[0], reflect.ValueOf(&v).Elem(), "ext")
	var lines []string
	for _, p := range ps.List {
		lines = append(lines, p.String())
	}
	return v, lines
}

func TestDecodeExtensionTypes(t *testing.T) {
	t.Parallel()
	v, problems := decodeExt(t, "ratio: ${R}\ncount: 7\ncidrs: [10.0.0.0/8, \"::1/128\"]\nlists: {a: [1, 2]}\ncustom: {x: 1}\n")
	if len(problems) > 0 {
		t.Fatalf("problems = %v, want none", problems)
	}
	if v.Ratio != 0.25 || v.Count != 7 || len(v.CIDRs) != 2 || v.CIDRs[0].String() != "10.0.0.0/8" || len(v.Lists["a"]) != 2 || v.Custom.tag != "!!map" {
		t.Errorf("decoded = %+v, want ratio 0.25 count 7 two prefixes lists a=[1 2] custom !!map", v)
	}
	_, problems = decodeExt(t, "ratio: often\ncount: -1\ncidrs: [10.0.0.0/33]\ncustom: bad\n")
	checkLines(t, problems, []string{
		`x.yaml:1:8: ext.ratio: expected a number, got "often"`,
		`x.yaml:2:8: ext.count: expected a non-negative integer, got "-1"`,
		`x.yaml:3:9: ext.cidrs[0]: invalid value "10.0.0.0/33": netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`,
		`x.yaml:4:9: ext.custom: custom says no`,
	})
}
