package config

import (
	"fmt"
	"strings"
	"testing"
)

// bigConfig builds a config with n routes over 10 upstreams.
func bigConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("listeners:\n  web:\n    address: \":8080\"\nupstreams:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  up%d:\n    balance: least_request\n    targets: [\"http://127.0.0.1:%d\", {url: \"http://127.0.0.2:%d\", weight: 2}]\n    health: {path: /healthz}\n", i, 9000+i, 9000+i)
	}
	b.WriteString("routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: route%d\n    upstream: up%d\n    match:\n      hosts: [\"api%d.example.com\"]\n      path: /v1/items%d/{id}/*\n      methods: [GET, POST]\n      headers: {X-Tenant: {regex: \"^t[0-9]+$\"}}\n    rewrite: {path: \"/items/{id}/{*}\"}\n", i, i%10, i%7, i)
	}
	return []byte(b.String())
}

// BenchmarkParse1000Routes measures a full Parse (decode, defaults, validation) of a
// 1,000-route config; informational, reload is not a hot path.
func BenchmarkParse1000Routes(b *testing.B) {
	data := bigConfig(1000)
	opts := ParseOptions{LookupEnv: lookupMap(nil)}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseWith("big.yaml", data, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBigConfigParses(t *testing.T) {
	t.Parallel()
	c, err := ParseWith("big.yaml", bigConfig(1000), ParseOptions{LookupEnv: lookupMap(nil)})
	if err != nil {
		t.Fatalf("ParseWith(big) error:\n%v", err)
	}
	if len(c.Routes) != 1000 {
		t.Fatalf("len(Routes) = %d, want 1000", len(c.Routes))
	}
}
