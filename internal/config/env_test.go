package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	env := lookupMap(map[string]string{"HOST": "db.internal", "PORT": "5432", "EMPTY": ""})
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "no dollar", in: "plain", want: "plain"},
		{name: "whole value", in: "${HOST}", want: "db.internal"},
		{name: "inside text", in: "${HOST}:${PORT}", want: "db.internal:5432"},
		{name: "default when unset", in: "${MISSING:-8080}", want: "8080"},
		{name: "default when empty", in: "${EMPTY:-x}", want: "x"},
		{name: "set value wins over default", in: "${PORT:-1}", want: "5432"},
		{name: "empty default", in: "a${MISSING:-}b", want: "ab"},
		{name: "set but empty", in: "a${EMPTY}b", want: "ab"},
		{name: "double dollar is literal", in: "$${HOST}", want: "${HOST}"},
		{name: "lone dollar stays", in: "^/a$", want: "^/a$"},
		{name: "dollar before letter stays", in: "$HOST", want: "$HOST"},
		{name: "default is not expanded again", in: "${MISSING:-$$x}", want: "$$x"},
		{name: "unset", in: "${MISSING}", wantErr: "environment variable MISSING is not set (use ${MISSING:-default} for a fallback)"},
		{name: "unterminated", in: "x${HOST", wantErr: `unterminated ${ in "x${HOST" (write $$ for a literal $)`},
		{name: "empty name", in: "${}", wantErr: "invalid variable reference ${} (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)"},
		{name: "bad name", in: "${1X}", wantErr: "invalid variable reference ${1X} (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := expand(tt.in, env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("expand(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("expand(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseExpandsEnvironment(t *testing.T) {
	t.Parallel()
	src := `listeners:
  web:
    address: "${ADDR:-:8080}"
    limits: {max_connections: "${MAXCONN}"}
    proxy_protocol: ${PP}
upstreams:
  api:
    targets: ["http://${API_HOST}:9001"]
    timeouts: {connect: "${CONNECT}"}
routes:
  - name: r
    upstream: api
    match:
      query:
        ${NOT_A_KEY_EXPANSION}: "$$literal"
`
	env := map[string]string{"MAXCONN": "100", "PP": "true", "API_HOST": "10.0.0.7", "CONNECT": "750ms"}
	c, err := ParseWith("gantry.yaml", []byte(src), ParseOptions{LookupEnv: lookupMap(env)})
	if err != nil {
		t.Fatalf("ParseWith() error:\n%v", err)
	}
	web := c.Listeners["web"]
	if web.Address != ":8080" || web.Limits.MaxConnections != 100 || !web.ProxyProtocol {
		t.Errorf("listener = address %q max %d proxy %v, want :8080 100 true", web.Address, web.Limits.MaxConnections, web.ProxyProtocol)
	}
	api := c.Upstreams["api"]
	if api.Targets[0].URL != "http://10.0.0.7:9001" || api.Timeouts.Connect.D().String() != "750ms" {
		t.Errorf("upstream = %q connect %v, want http://10.0.0.7:9001 750ms", api.Targets[0].URL, api.Timeouts.Connect.D())
	}
	v, ok := c.Routes[0].Match.Query["${NOT_A_KEY_EXPANSION}"]
	if !ok {
		t.Fatalf("query keys = %v, want the key kept verbatim (keys are not expanded)", c.Routes[0].Match.Query)
	}
	if v.Exact == nil || *v.Exact != "$literal" {
		t.Errorf("query value = %v, want $literal", v.Exact)
	}
}

func TestParseEnvironmentProblems(t *testing.T) {
	t.Parallel()
	src := strings.Replace(minimal, `":8080"`, `"${LISTEN}"`, 1)
	src = strings.Replace(src, `"http://127.0.0.1:9001"`, `"http://${HOST:9001"`, 1)
	checkLines(t, problemLines(t, src, nil), []string{
		`gantry.yaml:3:14: listeners.web.address: environment variable LISTEN is not set (use ${LISTEN:-default} for a fallback)`,
		`gantry.yaml:6:15: upstreams.api.targets[0]: unterminated ${ in "http://${HOST:9001" (write $$ for a literal $)`,
	})
}
