package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

func TestApply(t *testing.T) {
	t.Parallel()
	jwtConsumer := func(claims map[string]any) *policy.Consumer {
		return &policy.Consumer{Name: "sub-1", Claims: claims}
	}
	tests := []struct {
		name      string
		cfg       config.Authz
		consumer  *policy.Consumer
		want      int
		wantScope bool // insufficient_scope challenge expected
	}{
		{name: "no consumer", cfg: config.Authz{Scopes: []string{"a"}}, want: 401},
		{name: "scope string has it", cfg: config.Authz{Scopes: []string{"orders:read"}}, consumer: jwtConsumer(map[string]any{"scope": "profile orders:read"}), want: 0},
		{name: "scope string lacks it", cfg: config.Authz{Scopes: []string{"orders:write"}}, consumer: jwtConsumer(map[string]any{"scope": "orders:read orders:writer"}), want: 403, wantScope: true},
		{name: "scp array has it", cfg: config.Authz{Scopes: []string{"orders:read"}}, consumer: jwtConsumer(map[string]any{"scp": []any{"orders:read"}}), want: 0},
		{name: "all scopes required", cfg: config.Authz{Scopes: []string{"a", "b"}}, consumer: jwtConsumer(map[string]any{"scope": "a"}), want: 403, wantScope: true},
		{name: "configured consumer scopes", cfg: config.Authz{Scopes: []string{"a"}}, consumer: &policy.Consumer{Name: "k", Scopes: []string{"a"}}, want: 0},
		{name: "api key consumer without scope", cfg: config.Authz{Scopes: []string{"a"}}, consumer: &policy.Consumer{Name: "k"}, want: 403},
		{name: "consumer allow list", cfg: config.Authz{Consumers: []string{"alice"}}, consumer: &policy.Consumer{Name: "alice"}, want: 0},
		{name: "consumer not in allow list", cfg: config.Authz{Consumers: []string{"alice"}}, consumer: &policy.Consumer{Name: "bob"}, want: 403},
		{name: "group allowed", cfg: config.Authz{Groups: &config.GroupRule{Allow: []string{"staff"}}}, consumer: &policy.Consumer{Name: "a", Groups: []string{"x", "staff"}}, want: 0},
		{name: "group not allowed", cfg: config.Authz{Groups: &config.GroupRule{Allow: []string{"staff"}}}, consumer: &policy.Consumer{Name: "a", Groups: []string{"x"}}, want: 403},
		{name: "group deny wins", cfg: config.Authz{Groups: &config.GroupRule{Allow: []string{"staff"}, Deny: []string{"suspended"}}}, consumer: &policy.Consumer{Name: "a", Groups: []string{"staff", "suspended"}}, want: 403},
		{name: "claim equal", cfg: config.Authz{Claims: map[string][]string{"tenant": {"acme", "globex"}}}, consumer: jwtConsumer(map[string]any{"tenant": "acme"}), want: 0},
		{name: "claim not equal", cfg: config.Authz{Claims: map[string][]string{"tenant": {"acme"}}}, consumer: jwtConsumer(map[string]any{"tenant": "initech"}), want: 403},
		{name: "claim missing", cfg: config.Authz{Claims: map[string][]string{"tenant": {"acme"}}}, consumer: jwtConsumer(map[string]any{}), want: 403},
		{name: "array claim membership", cfg: config.Authz{Claims: map[string][]string{"roles": {"admin"}}}, consumer: jwtConsumer(map[string]any{"roles": []any{"user", "admin"}}), want: 0},
		{name: "nested claim", cfg: config.Authz{Claims: map[string][]string{"realm_access.roles": {"admin"}}}, consumer: jwtConsumer(map[string]any{"realm_access": map[string]any{"roles": []any{"admin"}}}), want: 0},
		{name: "number claim", cfg: config.Authz{Claims: map[string][]string{"level": {"3"}}}, consumer: jwtConsumer(map[string]any{"level": json.Number("3")}), want: 0},
		{name: "bool claim", cfg: config.Authz{Claims: map[string][]string{"email_verified": {"true"}}}, consumer: jwtConsumer(map[string]any{"email_verified": false}), want: 403},
		{name: "object claim never equals", cfg: config.Authz{Claims: map[string][]string{"x": {"map[]"}}}, consumer: jwtConsumer(map[string]any{"x": map[string]any{}}), want: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(&tc.cfg)
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			a := p.Apply(&policy.Request{Consumer: tc.consumer})
			got := 0
			if a != nil {
				got = a.Status
			}
			if got != tc.want {
				t.Fatalf("Apply() status = %d, want %d", got, tc.want)
			}
			if got == 403 && a.Reason != "forbidden" {
				t.Fatalf("Reason = %q, want forbidden", a.Reason)
			}
			ch := ""
			if a != nil {
				ch = a.Header["WWW-Authenticate"]
			}
			if hasScope := strings.Contains(ch, `error="insufficient_scope"`); hasScope != tc.wantScope {
				t.Fatalf("WWW-Authenticate = %q, insufficient_scope wanted: %v", ch, tc.wantScope)
			}
		})
	}
}
