package config

import (
	"net/netip"
	"strings"
	"testing"
)

const diffBase = `listeners:
  web:
    address: ":8080"
upstreams:
  api:
    targets: ["http://127.0.0.1:9001"]
  shop:
    targets: ["http://127.0.0.1:9002"]
routes:
  - name: products
    upstream: shop
    match: {path: "/products/*"}
  - name: legacy
    upstream: api
    match: {path: "/old/*"}
`

func TestSameIgnoresPositions(t *testing.T) {
	t.Parallel()
	a := mustParse(t, diffBase)
	// The same content with blank lines, comments and the sections in another order:
	// every position differs.
	b := mustParse(t, `# moved around
routes:

  - name: products
    match:   {path: "/products/*"}
    upstream: shop
  - name: legacy
    upstream: api
    match: {path: "/old/*"}
upstreams:
  shop:
    targets:
      - http://127.0.0.1:9002
  api:
    targets: [{url: "http://127.0.0.1:9001", weight: 1}]
listeners:

  web: {address: ":8080"}
`)
	if a.Routes[0].Pos == b.Routes[0].Pos {
		t.Fatalf("test configs should differ in positions")
	}
	if !Same(a, b) {
		t.Errorf("Same(a, b) = false, want true for configs that differ only in layout")
	}
	if ch := Diff(a, b); !ch.Empty() {
		t.Errorf("Diff() = %q, want no changes", ch)
	}
	if Same(a.Routes[0], a.Routes[1]) {
		t.Errorf("Same(products, legacy) = true, want false")
	}
}

func TestSame(t *testing.T) {
	t.Parallel()
	one, two := 1, 2
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{name: "nil and nil", a: nil, b: nil, want: true},
		{name: "nil and value", a: nil, b: &Route{}, want: false},
		{name: "different types", a: &Route{}, b: &Upstream{}, want: false},
		{name: "positions ignored", a: &Route{At: At{Pos: Pos{Line: 1}}, Name: "x"}, b: &Route{At: At{Pos: Pos{Line: 9}}, Name: "x"}, want: true},
		{name: "name differs", a: &Route{Name: "x"}, b: &Route{Name: "y"}, want: false},
		{name: "nil and empty slice", a: Match{Methods: nil}, b: Match{Methods: []string{}}, want: true},
		{name: "pointer values compared", a: &Retries{Attempts: &one}, b: &Retries{Attempts: &one}, want: true},
		{name: "pointer values differ", a: &Retries{Attempts: &one}, b: &Retries{Attempts: &two}, want: false},
		{name: "nil pointer and set pointer", a: &Retries{}, b: &Retries{Attempts: &one}, want: false},
		{name: "map values", a: map[string]string{"a": "x"}, b: map[string]string{"a": "y"}, want: false},
		{name: "foreign value types compare by ==", a: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, b: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}, want: false},
		{name: "foreign value types equal", a: netip.MustParseAddr("::1"), b: netip.MustParseAddr("::1"), want: true},
		{name: "config metadata ignored", a: &Config{Source: "a.yaml", Hash: "1"}, b: &Config{Source: "b.yaml", Hash: "2"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Same(tt.a, tt.b); got != tt.want {
				t.Errorf("Same() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	old := mustParse(t, diffBase)
	tests := []struct {
		name  string
		src   string
		want  string
		empty bool
	}{
		{name: "identical", src: diffBase, want: "routes none; upstreams none; listeners none", empty: true},
		{
			name: "route added, removed, modified and upstream modified",
			src: `listeners:
  web:
    address: ":8080"
upstreams:
  api:
    targets: ["http://127.0.0.1:9001"]
  shop:
    targets: ["http://127.0.0.1:9002", "http://127.0.0.1:9003"]
routes:
  - name: orders
    upstream: shop
    match: {path: "/orders/*"}
  - name: products
    upstream: shop
    match: {path: "/products/{id}"}
`,
			want: "routes +orders -legacy ~products; upstreams ~shop; listeners none",
		},
		{
			name: "log changed",
			src:  diffBase + "log: {level: debug}\n",
			want: "routes none; upstreams none; listeners none; other ~log",
		},
		{
			name: "listener changed",
			src:  strings.Replace(diffBase, `":8080"`, `":8081"`, 1),
			want: "routes none; upstreams none; listeners ~web",
		},
		{
			name: "route order",
			src: strings.Replace(diffBase, `  - name: products
    upstream: shop
    match: {path: "/products/*"}
  - name: legacy
    upstream: api
    match: {path: "/old/*"}
`, `  - name: legacy
    upstream: api
    match: {path: "/old/*"}
  - name: products
    upstream: shop
    match: {path: "/products/*"}
`, 1),
			want: "routes none; upstreams none; listeners none; route order changed",
		},
		{
			name: "upstream retries change modifies the routes that inherit them",
			src:  strings.Replace(diffBase, "  api:\n", "  api:\n    retries: {attempts: 5}\n", 1),
			want: "routes ~legacy; upstreams ~api; listeners none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch := Diff(old, mustParse(t, tt.src))
			if got := ch.String(); got != tt.want {
				t.Errorf("Diff().String() = %q, want %q", got, tt.want)
			}
			if ch.Empty() != tt.empty {
				t.Errorf("Diff().Empty() = %v, want %v", ch.Empty(), tt.empty)
			}
		})
	}
}

func TestDiffFirstLoad(t *testing.T) {
	t.Parallel()
	ch := Diff(nil, mustParse(t, diffBase))
	want := "routes +legacy +products; upstreams +api +shop; listeners +web"
	if got := ch.String(); got != want {
		t.Errorf("Diff(nil, c).String() = %q, want %q", got, want)
	}
}
