package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantrygw/gantry/internal/gateway"
)

const explainYAML = `
listeners:
  web: { address: "127.0.0.1:18080" }
upstreams:
  shop: { targets: ["http://127.0.0.1:9001", "http://127.0.0.1:9002"] }
  orders: { targets: ["http://127.0.0.1:9003"] }
routes:
  - name: product
    match: { path: "/api/products/{id}", methods: [GET] }
    upstream: shop
    rewrite: { path: "/products/{id}" }
  - name: canary
    match: { path: "/api/products/*", headers: { X-Canary: "1" } }
    upstream: orders
    cors: { origins: ["https://a.example.com"] }
  - name: rpc
    match: { path: /api/rpc, body: { "$.operation": ping } }
    upstream: orders
`

func TestExplainCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gantry.yaml")
	if err := os.WriteFile(cfg, []byte(explainYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, []byte(`{"operation":"ping"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{name: "param route", args: []string{"-c", cfg, "GET", "http://127.0.0.1:18080/api/products/42"}, wantCode: 0,
			want: []string{"route      product", "params     id=42", "forward    GET /products/42", "~ canary", "header X-Canary: want=1, got none"}},
		{name: "headers after the URL", args: []string{"-c", cfg, "http://h/api/products/a/b", "-H", "X-Canary: 1"}, wantCode: 0,
			want: []string{"route      canary", "policies   cors (in this order)", "target http://127.0.0.1:9003"}},
		{name: "body from a file implies POST", args: []string{"-c", cfg, "/api/rpc", "-d", "@" + body}, wantCode: 0,
			want: []string{"request    POST /api/rpc", "route      rpc"}},
		{name: "no route", args: []string{"-c", cfg, "GET", "/nowhere"}, wantCode: 1,
			want: []string{"none: the gateway answers 404 no_route"}},
		{name: "body condition unmet", args: []string{"-c", cfg, "DELETE", "/api/rpc"}, wantCode: 1, want: []string{"404 no_route", "~ rpc", "no (JSON) body"}},
		{name: "no URL", args: []string{"-c", cfg}, wantCode: 2, wantErr: "want [METHOD] URL"},
		{name: "bad header", args: []string{"-c", cfg, "/x", "-H", "nocolon"}, wantCode: 2, wantErr: "want 'Name: value'"},
		{name: "missing config", args: []string{"-c", filepath.Join(dir, "nope.yaml"), "/x"}, wantCode: 1, wantErr: "read config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := dispatch(append([]string{"explain"}, tc.args...), &out, &errOut)
			if code != tc.wantCode {
				t.Errorf("gantry explain %v = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.wantCode, out.String(), errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("gantry explain %v stdout lacks %q:\n%s", tc.args, w, out.String())
				}
			}
			if tc.wantErr != "" && !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("gantry explain %v stderr = %q, want it to contain %q", tc.args, errOut.String(), tc.wantErr)
			}
		})
	}
}

func TestExplainCommandJSON(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "gantry.yaml")
	if err := os.WriteFile(cfg, []byte(explainYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := cmdExplain([]string{"-c", cfg, "--json", "GET", "/api/products/7"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	var ex gateway.Explanation
	if err := json.Unmarshal(out.Bytes(), &ex); err != nil {
		t.Fatalf("--json output is not an Explanation: %v\n%s", err, out.String())
	}
	if ex.Route != "product" || ex.Params["id"] != "7" || ex.Rewrite == nil || ex.Rewrite.Path != "/products/7" || ex.Upstream != "shop" {
		t.Errorf("--json = %+v, want route product, id 7, rewrite /products/7, upstream shop", ex)
	}
}
