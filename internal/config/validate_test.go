package config

import (
	"strings"
	"testing"
)

// withRoute returns minimal with the route body (indented under "- name: r") replaced.
func withRoute(route string) string {
	return strings.Replace(minimal, "  - name: r\n    upstream: api\n", route, 1)
}

func TestValidateProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// Listeners.
		{
			name: "no listeners",
			src:  strings.Replace(minimal, "listeners:\n  web:\n    address: \":8080\"\n", "", 1),
			want: []string{`gantry.yaml:1:1: listeners: at least one listener is required`},
		},
		{
			name: "address without port",
			src:  strings.Replace(minimal, `":8080"`, `"8080"`, 1),
			want: []string{`gantry.yaml:3:14: listeners.web.address: invalid address "8080" (write host:port, e.g. ":8080" or "127.0.0.1:8080")`},
		},
		{
			name: "port out of range",
			src:  strings.Replace(minimal, `":8080"`, `"127.0.0.1:70000"`, 1),
			want: []string{`gantry.yaml:3:14: listeners.web.address: invalid port "70000" in "127.0.0.1:70000" (want 0-65535)`},
		},
		{
			name: "missing address",
			src:  strings.Replace(minimal, `address: ":8080"`, `protocol: http`, 1),
			want: []string{`gantry.yaml:3:5: listeners.web.address: address is required (host:port, e.g. ":8080" or "127.0.0.1:8080")`},
		},
		{
			name: "duplicate address points at the second listener",
			src:  strings.Replace(minimal, "upstreams:\n", "  other:\n    address: \":8080\"\nupstreams:\n", 1),
			want: []string{`gantry.yaml:5:14: listeners.other.address: address ":8080" is already used by listener "web" (line 3)`},
		},
		{
			name: "tcp and udp may share a port",
			src: strings.Replace(minimal, "upstreams:\n", `  dns:
    address: ":5353"
    protocol: udp
    upstream: resolvers
  dnstcp:
    address: ":5353"
    protocol: tcp
    upstream: resolvers
upstreams:
  resolvers:
    targets: ["127.0.0.1:53"]
`, 1),
			want: nil,
		},
		{
			name: "unknown protocol",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    protocol: htp", 1),
			want: []string{`gantry.yaml:4:15: listeners.web.protocol: unknown protocol "htp" (known: http, tcp, udp)`},
		},
		{
			name: "tcp listener needs an upstream",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    protocol: tcp", 1),
			want: []string{`gantry.yaml:3:5: listeners.web.upstream: a tcp listener needs an upstream (or an sni map)`},
		},
		{
			name: "http listener may not name an upstream",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    upstream: api", 1),
			want: []string{`gantry.yaml:4:15: listeners.web.upstream: an http listener has no upstream; routes choose the upstream (upstream is for tcp and udp listeners)`},
		},
		{
			name: "sni names an unknown upstream",
			src: strings.Replace(minimal, "upstreams:\n", `  tls:
    address: ":8443"
    protocol: tcp
    sni:
      "*.example.com": passthru
upstreams:
`, 1),
			want: []string{`gantry.yaml:8:24: listeners.tls.sni["*.example.com"]: unknown upstream "passthru" (known: api)`},
		},
		{
			name: "tcp listener to an unknown upstream",
			src:  strings.Replace(minimal, "upstreams:\n", "  db:\n    address: \":5432\"\n    protocol: tcp\n    upstream: pg\nupstreams:\n", 1),
			want: []string{`gantry.yaml:7:15: listeners.db.upstream: unknown upstream "pg" (known: api)`},
		},
		{
			name: "tls needs certificates",
			src:  strings.Replace(minimal, `":8080"`, `":8443"`+"\n    tls: {min_version: \"1.1\"}", 1),
			want: []string{
				`gantry.yaml:4:10: listeners.web.tls.certificates: at least one certificate is required`,
				`gantry.yaml:4:24: listeners.web.tls.min_version: unknown TLS version "1.1" (known: 1.2, 1.3)`,
			},
		},
		{
			name: "explicit zero timeout",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    timeouts: {read_header: 0}", 1),
			want: []string{`gantry.yaml:4:29: listeners.web.timeouts.read_header: must be greater than 0 (leave it out for the default)`},
		},
		{
			name: "hardening limits out of range",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    limits: {max_header_count: 0, max_uri_length: 0, max_requests_per_connection: -1}", 1),
			want: []string{
				`gantry.yaml:4:32: listeners.web.limits.max_header_count: must be greater than 0, got 0`,
				`gantry.yaml:4:51: listeners.web.limits.max_uri_length: must be greater than 0`,
				`gantry.yaml:4:83: listeners.web.limits.max_requests_per_connection: must not be negative, got -1 (0 means no limit)`,
			},
		},
		{
			name: "hardening limits set",
			src:  strings.Replace(minimal, `":8080"`, `":8080"`+"\n    limits: {max_header_count: 20, max_uri_length: 1KiB, max_requests_per_connection: 1}", 1),
			want: nil,
		},
		// Upstreams and targets.
		{
			name: "upstream without targets",
			src:  strings.Replace(minimal, `targets: ["http://127.0.0.1:9001"]`, `targets: []`, 1),
			want: []string{`gantry.yaml:6:14: upstreams.api.targets: at least one target is required`},
		},
		{
			name: "target scheme",
			src:  strings.Replace(minimal, `"http://127.0.0.1:9001"`, `"ftp://127.0.0.1:9001"`, 1),
			want: []string{`gantry.yaml:6:15: upstreams.api.targets[0].url: target "ftp://127.0.0.1:9001": unknown scheme "ftp" (known: http, https, h2c)`},
		},
		{
			name: "target needs a port",
			src:  strings.Replace(minimal, `"http://127.0.0.1:9001"`, `"https://api.internal"`, 1),
			want: []string{`gantry.yaml:6:15: upstreams.api.targets[0].url: target "https://api.internal" needs a port (e.g. https://api.internal:443)`},
		},
		{
			name: "target with a path",
			src:  strings.Replace(minimal, `"http://127.0.0.1:9001"`, `"http://127.0.0.1:9001/v1?x=1"`, 1),
			want: []string{`gantry.yaml:6:15: upstreams.api.targets[0].url: target "http://127.0.0.1:9001/v1?x=1" may not have a path, query or fragment (use a route's rewrite to change the path)`},
		},
		{
			name: "target without scheme for http",
			src:  strings.Replace(minimal, `"http://127.0.0.1:9001"`, `"127.0.0.1:9001"`, 1),
			want: []string{`gantry.yaml:6:15: upstreams.api.targets[0].url: invalid target "127.0.0.1:9001" (write scheme://host:port with scheme http, https or h2c)`},
		},
		{
			name: "tcp target with a scheme",
			src: strings.Replace(minimal, "upstreams:\n", `  db:
    address: ":5432"
    protocol: tcp
    upstream: pg
upstreams:
  pg:
    targets: ["tcp://127.0.0.1:5432", "127.0.0.1:0"]
`, 1),
			want: []string{
				`gantry.yaml:10:15: upstreams.pg.targets[0].url: target "tcp://127.0.0.1:5432" of a tcp/udp upstream is host:port, without a scheme`,
				`gantry.yaml:10:39: upstreams.pg.targets[1].url: target "127.0.0.1:0": invalid port "0" in "127.0.0.1:0" (want 1-65535)`,
			},
		},
		{
			name: "upstream used by a route and a tcp listener",
			src:  strings.Replace(minimal, "upstreams:\n", "  db:\n    address: \":5432\"\n    protocol: tcp\n    upstream: api\nupstreams:\n", 1),
			want: []string{`gantry.yaml:10:5: upstreams.api: upstream is used by http route "r" (routes[0]) and by tcp listener "db"; an upstream serves either http routes or tcp/udp listeners`},
		},
		{
			name: "weight zero",
			src:  strings.Replace(minimal, `["http://127.0.0.1:9001"]`, `[{url: "http://127.0.0.1:9001", weight: 0}]`, 1),
			want: []string{`gantry.yaml:6:54: upstreams.api.targets[0].weight: weight must be at least 1, got 0 (remove the target, or drain it through the admin API)`},
		},
		{
			name: "duplicate target",
			src:  strings.Replace(minimal, `["http://127.0.0.1:9001"]`, `["http://127.0.0.1:9001", "http://127.0.0.1:9001"]`, 1),
			want: []string{`gantry.yaml:6:40: upstreams.api.targets[1].url: duplicate target "http://127.0.0.1:9001" (first at line 6)`},
		},
		{
			name: "unknown balancer",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    balance: fastest\n", 1),
			want: []string{`gantry.yaml:6:14: upstreams.api.balance: unknown balancer "fastest" (known: round_robin, weighted_round_robin, least_connections, least_request, ewma, ip_hash, consistent_hash, random, sticky)`},
		},
		{
			name: "consistent_hash needs hash_key",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    balance: consistent_hash\n", 1),
			want: []string{`gantry.yaml:6:5: upstreams.api.hash_key: consistent_hash needs a hash_key (header:NAME, cookie:NAME, query:NAME, ip or path)`},
		},
		{
			name: "invalid hash_key",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    balance: consistent_hash\n    hash_key: body:user\n", 1),
			want: []string{`gantry.yaml:7:15: upstreams.api.hash_key: invalid hash_key "body:user" (write header:NAME, cookie:NAME, query:NAME, ip or path)`},
		},
		{
			name: "hash_key without consistent_hash",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    hash_key: ip\n", 1),
			want: []string{`gantry.yaml:6:15: upstreams.api.hash_key: hash_key is only used by balance consistent_hash (balance is round_robin)`},
		},
		{
			name: "proxy_protocol version",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    proxy_protocol: v3\n", 1),
			want: []string{`gantry.yaml:6:21: upstreams.api.proxy_protocol: unknown proxy_protocol "v3" (known: v1, v2, or empty for none)`},
		},
		// Health, outlier, retries, breaker.
		{
			name: "health check problems",
			src: strings.Replace(minimal, "  api:\n", `  api:
    health:
      type: icmp
      expect_status: 200-99
      healthy_threshold: 0
      interval: 1s
      timeout: 1s
`, 1),
			want: []string{
				`gantry.yaml:7:13: upstreams.api.health.type: unknown health check type "icmp" (known: http, tcp, grpc)`,
				`gantry.yaml:8:22: upstreams.api.health.expect_status: invalid status "200-99" (write a code like 200 or a range like 200-399)`,
				`gantry.yaml:9:26: upstreams.api.health.healthy_threshold: must be at least 1, got 0`,
				`gantry.yaml:11:16: upstreams.api.health.timeout: timeout 1s must be shorter than interval 1s`,
			},
		},
		{
			name: "expect_status format",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    health: {expect_status: 2xx}\n", 1),
			want: []string{`gantry.yaml:6:29: upstreams.api.health.expect_status: invalid status "2xx" (write a code like 200 or a range like 200-399)`},
		},
		{
			name: "expect_status range bounds",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    health: {expect_status: 400-300}\n", 1),
			want: []string{`gantry.yaml:6:29: upstreams.api.health.expect_status: invalid status range "400-300" (codes are 100-599, low to high)`},
		},
		{
			name: "outlier percentages",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    outlier: {max_ejected_percent: 150, panic_threshold: -1}\n", 1),
			want: []string{
				`gantry.yaml:6:36: upstreams.api.outlier.max_ejected_percent: must be a percentage from 0 to 100, got 150`,
				`gantry.yaml:6:58: upstreams.api.outlier.panic_threshold: must be a percentage from 0 to 100, got -1`,
			},
		},
		{
			name: "retry conditions",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    retries:\n      attempts: -1\n      on: [connect, 404, reset]\n", 1),
			want: []string{
				`gantry.yaml:7:17: upstreams.api.retries.attempts: must not be negative, got -1`,
				`gantry.yaml:8:21: upstreams.api.retries.on[1]: unknown retry condition "404" (known: connect, timeout, or a 5xx status code such as 502)`,
				`gantry.yaml:8:26: upstreams.api.retries.on[2]: unknown retry condition "reset" (known: connect, timeout, or a 5xx status code such as 502)`,
			},
		},
		{
			name: "negative breaker",
			src:  strings.Replace(minimal, "  api:\n", "  api:\n    circuit_breaker: {max_requests: -5}\n", 1),
			want: []string{`gantry.yaml:6:37: upstreams.api.circuit_breaker.max_requests: must not be negative, got -5`},
		},
		// Routes.
		{
			name: "route name required",
			src:  withRoute("  - upstream: api\n"),
			want: []string{`gantry.yaml:8:5: routes[0].name: name is required`},
		},
		{
			name: "duplicate route name points at the second",
			src:  withRoute("  - name: r\n    upstream: api\n  - name: r\n    upstream: api\n"),
			want: []string{`gantry.yaml:10:11: routes[1].name: duplicate route name "r" (first at line 8)`},
		},
		{
			name: "invalid route name",
			src:  withRoute("  - name: my route\n    upstream: api\n"),
			want: []string{`gantry.yaml:8:11: routes[0].name: invalid route name "my route" (use letters, digits, '_', '-' and '.', starting with a letter or digit)`},
		},
		{
			name: "unknown upstream lists the known ones",
			src:  withRoute("  - name: r\n    upstream: shop2\n"),
			want: []string{`gantry.yaml:9:15: routes[0].upstream: unknown upstream "shop2" (known: api)`},
		},
		{
			name: "unknown and non-http listeners",
			src: strings.Replace(withRoute("  - name: r\n    listeners: [web, www, db]\n    upstream: api\n"), "upstreams:\n",
				"  db:\n    address: \":5432\"\n    protocol: tcp\n    upstream: pg\nupstreams:\n  pg:\n    targets: [\"127.0.0.1:5432\"]\n", 1),
			want: []string{
				`gantry.yaml:15:22: routes[0].listeners[1]: unknown listener "www" (known: db, web)`,
				`gantry.yaml:15:27: routes[0].listeners[2]: listener "db" is tcp; routes apply to http listeners only`,
			},
		},
		{
			name: "path must be rooted",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: api/*}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "api/*" must start with "/"`},
		},
		{
			name: "empty parameter",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/users/{}\"}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "/users/{}" has an empty parameter {}`},
		},
		{
			name: "parameter must be a whole segment",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/files/{name}.json\"}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "/files/{name}.json": a {param} must be a whole segment (got "{name}.json")`},
		},
		{
			name: "star only at the end",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/a/*/b\"}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "/a/*/b": * is only allowed as the last segment ("/api/*")`},
		},
		{
			name: "parameter used twice",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/{id}/x/{id}\"}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "/{id}/x/{id}" uses parameter {id} twice`},
		},
		{
			name: "parameter name must be an identifier",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/{user-id}\"}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "/{user-id}": parameter name "user-id" must be letters, digits and _, not starting with a digit`},
		},
		{
			name: "too many parameters",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}\"}\n"),
			want: []string{`gantry.yaml:10:19: routes[0].match.path: path "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}" has more than 8 parameters`},
		},
		{
			name: "path and path_regex are exclusive",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: /a, path_regex: \"^/a$\"}\n"),
			want: []string{`gantry.yaml:10:35: routes[0].match.path_regex: path and path_regex are exclusive; use one`},
		},
		{
			name: "path_regex must compile",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path_regex: \"^/(a\"}\n"),
			want: []string{`gantry.yaml:10:25: routes[0].match.path_regex: invalid regex: missing closing ): ` + "`^/(a`"},
		},
		{
			name: "methods are tokens",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {methods: [get, \"PO ST\"]}\n"),
			want: []string{`gantry.yaml:10:28: routes[0].match.methods[1]: invalid method "PO ST" (an HTTP method is a token such as GET or POST)`},
		},
		{
			name: "hosts",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {hosts: [api.example.com, \"*.example.com\", \"a.*.com\", \"x.com:80\"]}\n"),
			want: []string{
				`gantry.yaml:10:55: routes[0].match.hosts[2]: invalid host "a.*.com" (a host name, or "*." and a host name; no port)`,
				`gantry.yaml:10:66: routes[0].match.hosts[3]: invalid host "x.com:80" (a host name, or "*." and a host name; no port)`,
			},
		},
		{
			name: "value match needs exactly one condition",
			src: withRoute(`  - name: r
    upstream: api
    match:
      headers:
        X-A: {exact: a, regex: b}
        X-B: {}
      query:
        q: {regex: "[", present: true}
`),
			want: []string{
				`gantry.yaml:12:14: routes[0].match.headers.X-A: write exactly one of exact, regex, present (or a plain string for an exact match)`,
				`gantry.yaml:13:14: routes[0].match.headers.X-B: write exactly one of exact, regex, present (or a plain string for an exact match)`,
				`gantry.yaml:15:12: routes[0].match.query.q: write exactly one of exact, regex, present (or a plain string for an exact match)`,
				`gantry.yaml:15:20: routes[0].match.query.q.regex: invalid regex: missing closing ]: ` + "`[`",
			},
		},
		{
			name: "body keys are JSON paths",
			src:  withRoute("  - name: r\n    upstream: api\n    match:\n      body:\n        operation: create\n        \"$.user.kind\": admin\n"),
			want: []string{`gantry.yaml:12:20: routes[0].match.body.operation: invalid body field "operation" (write a JSON path like "$.operation" or "$.user.kind")`},
		},
		{
			name: "header names are tokens",
			src:  withRoute("  - name: r\n    upstream: api\n    match:\n      headers:\n        \"X Env\": prod\n"),
			want: []string{`gantry.yaml:12:18: routes[0].match.headers["X Env"]: invalid header name "X Env"`},
		},
		{
			name: "rewrite references an undefined param",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/users/{id}\"}\n    rewrite: {path: \"/u/{uid}\"}\n"),
			want: []string{`gantry.yaml:11:21: routes[0].rewrite.path: rewrite path "/u/{uid}" uses {uid}, which match.path does not define (defined: id)`},
		},
		{
			name: "rewrite tail needs a star",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path: \"/users/{id}\"}\n    rewrite: {path: \"/u/{id}/{*}\"}\n"),
			want: []string{`gantry.yaml:11:21: routes[0].rewrite.path: rewrite path "/u/{id}/{*}" uses {*}, but match.path does not end in *`},
		},
		{
			name: "rewrite params need match.path",
			src:  withRoute("  - name: r\n    upstream: api\n    match: {path_regex: \"^/u/[0-9]+$\"}\n    rewrite: {path: \"/u/{id}\"}\n"),
			want: []string{`gantry.yaml:11:21: routes[0].rewrite.path: rewrite path "/u/{id}" uses {id}, but the route has no match.path to define it`},
		},
		{
			name: "strip_prefix is rooted",
			src:  withRoute("  - name: r\n    upstream: api\n    rewrite: {strip_prefix: api}\n"),
			want: []string{`gantry.yaml:10:29: routes[0].rewrite.strip_prefix: strip_prefix "api" must start with "/"`},
		},
		{
			name: "route retries are validated",
			src:  withRoute("  - name: r\n    upstream: api\n    retries: {budget_percent: 101}\n"),
			want: []string{`gantry.yaml:10:31: routes[0].retries.budget_percent: must be a percentage from 0 to 100, got 101`},
		},
		{
			name: "null route",
			src:  withRoute("  - name: r\n    upstream: api\n  -\n"),
			want: []string{`gantry.yaml:10:4: routes[1]: route is empty (a route needs at least name and upstream)`},
		},
		// Admin and log.
		{
			name: "admin token required off loopback",
			src:  minimal + "admin:\n  address: \"0.0.0.0:9901\"\n",
			want: []string{`gantry.yaml:11:3: admin.token: token is required when the admin address "0.0.0.0:9901" is not loopback (the admin API can change the running gateway)`},
		},
		{
			name: "admin on loopback needs no token",
			src:  minimal + "admin:\n  address: \"[::1]:9901\"\n",
			want: nil,
		},
		{
			name: "log level and format",
			src:  minimal + "log: {level: loud, format: xml}\n",
			want: []string{
				`gantry.yaml:10:14: log.level: unknown log level "loud" (known: debug, info, warn, error)`,
				`gantry.yaml:10:28: log.format: unknown log format "xml" (known: text, json)`,
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
