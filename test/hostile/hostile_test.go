package hostile

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

const apiKey = "alice-key-0123456789abcdef"

// env is the gateway under attack and what stands behind it.
type env struct {
	g          *gantry
	pub, adm   *backend
	web, cap   string // listener addresses
	backends   []*backend
	readHeader time.Duration
	idle       time.Duration
}

func setup(t *testing.T, engine string) *env {
	e := &env{pub: newBackend(t, "public"), adm: newBackend(t, "admin"), readHeader: time.Second, idle: 2 * time.Second}
	e.backends = []*backend{e.pub, e.adm}
	dead := testbackend.RefusedAddr(t)
	cfg := fmt.Sprintf(`listeners:
  web:
    address: "127.0.0.1:0"
    engine: %[5]s
    timeouts: {read_header: 1s, idle: 2s}
  capped:
    # Another loopback address: two listeners on "127.0.0.1:0" share one socket (see
    # the report of this suite); 127.0.0.2 is loopback on Linux.
    address: "127.0.0.2:0"
    engine: %[5]s
    limits: {max_requests_per_connection: 2, max_header_count: 10, max_uri_length: 256}
upstreams:
  pub: {targets: [%[1]q]}
  adm: {targets: [%[2]q]}
  dead: {targets: ["http://%[3]s"]}
security:
  consumer_header: X-Consumer
consumers:
  alice:
    api_keys: [%[4]q]
routes:
  - name: admin
    match: {path: "/admin/*"}
    upstream: adm
    auth: {api_key: {header: X-Api-Key}}
  - name: small
    match: {path: "/small/*"}
    upstream: pub
    limits: {max_body_bytes: 16}
  - name: dead
    match: {path: "/dead/*"}
    upstream: dead
  - name: public
    match: {path: "/public/*"}
    upstream: pub
`, e.pub.URL, e.adm.URL, dead, apiKey, engine)
	e.g = startGantry(t, cfg, "web", "capped")
	e.web, e.cap = e.g.addr("web"), e.g.addr("capped")
	return e
}

// hcase is one hostile exchange: raw bytes in, and what must and must not come out.
type hcase struct {
	name     string
	capped   bool   // send to the "capped" listener
	raw      string // sent as is
	replies  int    // responses to read; 0 means 1
	want     []int  // statuses in order; for one reply, any of want is accepted when anyOf
	anyOf    bool
	close    bool     // the gateway must close the connection after the replies
	never    []string // must never cross the wire to any backend
	check    func(t *testing.T, e *env, r result)
	knownBug string // the case shows a bug whose fix lies outside this package
}

func get(target string, extra ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: gw.test\r\n" + strings.Join(extra, "") + "\r\n"
}

func post(target, headers, body string) string {
	return "POST " + target + " HTTP/1.1\r\nHost: gw.test\r\n" + headers + "\r\n" + body
}

// smuggled is a complete request hidden where a confused parser would find it.
func smuggled(marker string) string {
	return "GET /admin/" + marker + " HTTP/1.1\r\nHost: gw.test\r\n\r\n"
}

// TestHostile runs every case against both HTTP/1.1 engines: the dedicated one (engine:
// fast, the default) and net/http (engine: standard, also the fallback of the fast one).
func TestHostile(t *testing.T) {
	for _, engine := range []string{"fast", "standard"} {
		t.Run(engine, func(t *testing.T) { hostile(t, engine) })
	}
}

func hostile(t *testing.T, engine string) {
	e := setup(t, engine)
	groups := []struct {
		name  string
		cases []hcase
	}{
		{name: "controls", cases: controlCases()},
		{name: "smuggling", cases: smugglingCases()},
		{name: "content-length", cases: contentLengthCases()},
		{name: "header-syntax", cases: headerSyntaxCases()},
		{name: "limits", cases: limitCases()},
		{name: "paths", cases: pathCases()},
		{name: "forwarding", cases: forwardingCases()},
		{name: "upgrades", cases: upgradeCases()},
	}
	t.Run("cases", func(t *testing.T) {
		for _, g := range groups {
			for _, tc := range g.cases {
				t.Run(g.name+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					run(t, e, tc)
				})
			}
		}
		t.Run("timeouts/slowloris", func(t *testing.T) { t.Parallel(); slowloris(t, e) })
		t.Run("timeouts/idle", func(t *testing.T) { t.Parallel(); idle(t, e) })
	})
	// Whatever happened above: the admin backend only ever saw authenticated requests.
	for _, r := range e.adm.all() {
		if r.Header.Get("X-Consumer") != "alice" {
			t.Errorf("admin backend saw %s %s without an authenticated consumer (X-Consumer %q)", r.Method, r.URI, r.Header.Get("X-Consumer"))
		}
	}
}

func run(t *testing.T, e *env, tc hcase) {
	addr := e.web
	if tc.capped {
		addr = e.cap
	}
	n := tc.replies
	if n == 0 {
		n = 1
	}
	res := exchange(t, addr, tc.raw, n, tc.close)
	got := res.statuses()
	var ok bool
	if tc.anyOf {
		ok = len(got) == 1 && slices.Contains(tc.want, got[0])
	} else {
		ok = slices.Equal(got, tc.want)
	}
	for _, r := range res.Replies {
		if l := leaks(r.Body, e.backends...); len(l) > 0 {
			t.Errorf("reply %d body leaks %q: %s", r.Status, l, r.Body)
		}
	}
	if tc.close && !res.Closed {
		t.Errorf("connection left open after %v, want closed", got)
	}
	for _, m := range tc.never {
		for _, b := range e.backends {
			if b.rawContains(m) {
				t.Errorf("%s backend received %q", b.name, m)
			}
		}
	}
	if tc.check != nil {
		tc.check(t, e, res)
	}
	if !ok {
		if tc.knownBug != "" {
			t.Skipf("statuses = %v, want %v: KNOWN BUG: %s", got, tc.want, tc.knownBug)
		}
		t.Errorf("statuses = %v, want %v", got, tc.want)
	}
}

// expectOne checks that exactly one request whose URI contains marker reached b, and
// returns it.
func expectOne(t *testing.T, b *backend, marker string) seen {
	t.Helper()
	rs := b.requests(marker)
	if len(rs) != 1 {
		t.Fatalf("%s backend saw %d requests for %q, want 1", b.name, len(rs), marker)
	}
	return rs[0]
}

func controlCases() []hcase {
	return []hcase{
		{name: "public get", raw: get("/public/ctl-ok"), want: []int{200}, check: func(t *testing.T, e *env, r result) {
			expectOne(t, e.pub, "ctl-ok")
		}},
		{name: "admin with key", raw: get("/admin/ctl-key", "X-Api-Key: "+apiKey+"\r\n"), want: []int{200}, check: func(t *testing.T, e *env, r result) {
			if got := expectOne(t, e.adm, "ctl-key").Header.Get("X-Consumer"); got != "alice" {
				t.Errorf("backend X-Consumer = %q, want alice", got)
			}
		}},
		{name: "admin without key", raw: get("/admin/ctl-nokey"), want: []int{401}, never: []string{"ctl-nokey"}},
		{name: "dead upstream", raw: get("/dead/ctl"), want: []int{502}},
		{name: "chunked body forwarded whole", raw: post("/public/ctl-chunked", "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"), want: []int{200}, check: func(t *testing.T, e *env, r result) {
			if got := expectOne(t, e.pub, "ctl-chunked"); string(got.Body) != "abcde" || got.BodyErr != nil {
				t.Errorf("backend body = %q (%v), want abcde", got.Body, got.BodyErr)
			}
		}},
	}
}

func smugglingCases() []hcase {
	clte := "0\r\n\r\n" + smuggled("SMUGGLE-clte")
	tecl := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled("SMUGGLE-tecl")), smuggled("SMUGGLE-tecl"))
	te := func(name, teLines string) hcase {
		marker := "te-" + strings.ReplaceAll(name, " ", "-")
		return hcase{
			name: name, raw: post("/public/"+marker, teLines, "0\r\n\r\n"+smuggled("SMUGGLE-"+marker)),
			want: []int{400, 501}, anyOf: true, close: true, never: []string{marker},
		}
	}
	body := smuggled("SMUGGLE-body")
	return []hcase{
		{
			name: "CL.TE", raw: post("/public/clte", fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n", len(clte)), clte),
			want: []int{400}, close: true, never: []string{"/public/clte", "SMUGGLE-clte"},
		},
		{
			name: "TE.CL", raw: post("/public/tecl", "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", tecl),
			want: []int{400}, close: true, never: []string{"/public/tecl", "SMUGGLE-tecl"},
		},
		{
			name: "TE.CL ows", raw: post("/public/tecl-ows", "Transfer-Encoding:  chunked\r\nContent-Length: 4\r\n", tecl),
			want: []int{400}, close: true, never: []string{"/public/tecl-ows", "SMUGGLE-tecl"},
		},
		te("xchunked", "Transfer-Encoding: xchunked\r\n"),
		te("chunked identity", "Transfer-Encoding: chunked, identity\r\n"),
		te("identity chunked", "Transfer-Encoding: identity, chunked\r\n"),
		te("gzip chunked", "Transfer-Encoding: gzip, chunked\r\n"),
		te("duplicate te", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
		te("duplicate te differing", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"),
		te("space before colon", "Transfer-Encoding : chunked\r\n"),
		te("obs-fold value", "Transfer-Encoding:\r\n chunked\r\n"),
		te("hidden in obs-fold", "X-Pad: a\r\n Transfer-Encoding: chunked\r\n"),
		te("vertical tab", "Transfer-Encoding: \x0bchunked\r\n"),
		te("underscore with cl", "Content-Length: 5\r\nTransfer_Encoding: chunked\r\n"),
		{
			name: "TE in HTTP/1.0",
			raw:  "POST /public/te10 HTTP/1.0\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
			want: []int{400}, close: true, never: []string{"/public/te10"},
		},
		{
			name: "te leading space is ows", raw: post("/public/te-ows", "Transfer-Encoding:  chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				if got := expectOne(t, e.pub, "te-ows"); string(got.Body) != "abc" {
					t.Errorf("backend body = %q, want abc", got.Body)
				}
			},
		},
		{
			name: "te tab is ows", raw: post("/public/te-tab", "Transfer-Encoding:\tchunked\r\n", "3\r\nabc\r\n0\r\n\r\n"),
			want: []int{200},
		},
		{
			name: "te upper case", raw: post("/public/te-upper", "Transfer-Encoding: CHUNKED\r\n", "3\r\nabc\r\n0\r\n\r\n"),
			want: []int{200},
		},
		{
			// A complete request inside a body is data: the backend gets it as the body
			// of the public request, never as a request of its own.
			name: "request hidden in body", raw: post("/public/pipebody", fmt.Sprintf("Content-Length: %d\r\n", len(body)), body) + get("/public/pipeafter"),
			replies: 2, want: []int{200, 200}, check: func(t *testing.T, e *env, r result) {
				if got := expectOne(t, e.pub, "pipebody"); string(got.Body) != body {
					t.Errorf("backend body = %q, want the hidden request as data", got.Body)
				}
				expectOne(t, e.pub, "pipeafter")
				if len(e.adm.requests("SMUGGLE-body")) != 0 || len(e.pub.requests("SMUGGLE-body")) != 0 {
					t.Errorf("the hidden request reached a backend as a request")
				}
			},
		},
		{
			name: "chunk size overflow", raw: post("/public/chunk-ovf", "Transfer-Encoding: chunked\r\n", "fffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
			want: []int{400, 502}, anyOf: true, close: true,
			check: func(t *testing.T, e *env, r result) {
				for _, s := range e.pub.requests("chunk-ovf") {
					if s.BodyErr == nil {
						t.Errorf("backend got a complete body %q for a malformed chunked request", s.Body)
					}
				}
			},
		},
	}
}

func contentLengthCases() []hcase {
	bad := func(name, cl string) hcase {
		marker := "cl-" + strings.ReplaceAll(name, " ", "-")
		return hcase{name: name, raw: post("/public/"+marker, cl, "abcde"), want: []int{400}, close: true, never: []string{marker}}
	}
	good := func(name, cl, body string) hcase {
		marker := "cl-" + strings.ReplaceAll(name, " ", "-")
		return hcase{
			name: name, raw: post("/public/"+marker+"/req", cl, body) + get("/public/"+marker+"/next"),
			replies: 2, want: []int{200, 200}, check: func(t *testing.T, e *env, r result) {
				got := expectOne(t, e.pub, marker+"/req")
				if string(got.Body) != body || len(got.Header["Content-Length"]) > 1 {
					t.Errorf("backend body %q, Content-Length %q; want %q once", got.Body, got.Header["Content-Length"], body)
				}
				expectOne(t, e.pub, marker+"/next")
			},
		}
	}
	return []hcase{
		// Even identical duplicates are refused, as nginx does (RFC 9110 section 8.6 allows either).
		bad("duplicate same", "Content-Length: 5\r\nContent-Length: 5\r\n"),
		good("leading ows", "Content-Length:  3\r\n", "abc"),
		good("trailing ows", "Content-Length: 3 \r\n", "abc"),
		good("leading zeros", "Content-Length: 003\r\n", "abc"),
		bad("duplicate differing", "Content-Length: 3\r\nContent-Length: 5\r\n"),
		bad("duplicate differing spelling", "Content-Length: 5\r\nContent-Length: 05\r\n"),
		bad("list", "Content-Length: 5, 5\r\n"),
		bad("plus", "Content-Length: +5\r\n"),
		bad("minus", "Content-Length: -5\r\n"),
		bad("hex", "Content-Length: 0x5\r\n"),
		bad("inner space", "Content-Length: 5 5\r\n"),
		bad("overflow", "Content-Length: 99999999999999999999\r\n"),
		bad("int64 overflow", "Content-Length: 9223372036854775808\r\n"),
		bad("empty", "Content-Length:\r\n"),
		bad("underscore", "Content_Length: 5\r\n"),
	}
}

func headerSyntaxCases() []hcase {
	bad := func(name, line string) hcase {
		marker := "hs-" + strings.ReplaceAll(name, " ", "-")
		injected := "X-Injected-" + marker // per case: the backends' raw bytes are shared
		line = strings.ReplaceAll(line, "X-Injected", injected)
		return hcase{name: name, raw: get("/public/"+marker, line), want: []int{400}, close: true, never: []string{marker, injected}}
	}
	return []hcase{
		bad("space before colon", "X-Pad : a\r\n"),
		bad("obs-fold", "X-Pad: a\r\n b\r\n"),
		bad("bare cr in value", "X-Pad: a\rX-Injected: 1\r\n"),
		bad("bare lf in value", "X-Pad: a\nX-Injected: 1\r\n"),
		bad("nul in value", "X-Pad: a\x00b\r\n"),
		bad("nul in name", "X-P\x00ad: a\r\n"),
		bad("ctl in name", "X-P\x01ad: a\r\n"),
		bad("del in value", "X-Pad: a\x7fb\r\n"),
		bad("no colon", "X-Pad a\r\n"),
		{
			name: "bare lf line ends", raw: "GET /public/hs-lf HTTP/1.1\nHost: gw.test\n\n",
			want: []int{400}, close: true, never: []string{"hs-lf"},
		},
		{
			name: "encoded crlf in path stays encoded", raw: get("/public/hs-enc%0d%0aX-Injected:%20yes?q=%0d%0aX-Injected:%20yes"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				if e.pub.rawContains("\r\nX-Injected") {
					t.Errorf("an encoded CRLF reached the backend decoded")
				}
			},
		},
	}
}

func limitCases() []hcase {
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		return b.String()
	}
	smallBody := strings.Repeat("x", 100)
	return []hcase{
		{name: "uri over 8KiB", raw: get("/public/lim-uri/" + strings.Repeat("a", 9000)), want: []int{414}, close: true, never: []string{"lim-uri"}},
		// The HTTP/1.1 engine sees the over-long target first (414); net/http's head limit
		// trips first (431). Both refuse and close.
		{name: "request line over header bytes", raw: get("/public/lim-line/" + strings.Repeat("a", 70<<10)), want: []int{414, 431}, anyOf: true, close: true, never: []string{"lim-line"}},
		{name: "one header over header bytes", raw: get("/public/lim-hdr", "X-Big: "+strings.Repeat("a", 70<<10)+"\r\n"), want: []int{431}, close: true, never: []string{"lim-hdr"}},
		{name: "header count over 100", raw: get("/public/lim-count", many(100)), want: []int{431}, close: true, never: []string{"lim-count"}},
		{name: "header count at 100", raw: get("/public/lim-ninetynine", many(99)), want: []int{200}},
		{name: "capped header count", capped: true, raw: get("/public/lim-ccount", many(10)), want: []int{431}, close: true, never: []string{"lim-ccount"}},
		{name: "capped uri", capped: true, raw: get("/public/lim-curi/" + strings.Repeat("a", 300)), want: []int{414}, close: true, never: []string{"lim-curi"}},
		{
			name: "capped requests per connection", capped: true,
			raw:     get("/public/lim-req1") + get("/public/lim-req2") + get("/public/lim-req3"),
			replies: 3, want: []int{200, 200}, close: true, never: []string{"lim-req3"},
			check: func(t *testing.T, e *env, r result) {
				if len(r.Replies) == 2 && (r.Replies[0].Close || !r.Replies[1].Close) {
					t.Errorf("Connection: close on replies = %v, %v; want false, true", r.Replies[0].Close, r.Replies[1].Close)
				}
			},
		},
		{
			name: "body over route limit with length", raw: post("/small/lim-cl", "Content-Length: 100\r\n", smallBody),
			want: []int{413}, never: []string{"lim-cl"},
		},
		{
			name: "chunked body over route limit", raw: post("/small/lim-chunked", "Transfer-Encoding: chunked\r\n", "10\r\n"+strings.Repeat("a", 16)+"\r\n10\r\n"+strings.Repeat("b", 16)+"\r\n0\r\n\r\n"),
			want: []int{413}, close: true,
			check: func(t *testing.T, e *env, r result) {
				for _, s := range e.pub.requests("lim-chunked") {
					if s.BodyErr == nil || len(s.Body) > 16 {
						t.Errorf("backend got body %q (err %v), want never more than 16 bytes and never complete", s.Body, s.BodyErr)
					}
				}
			},
		},
		{name: "body within route limit", raw: post("/small/lim-ok", "Content-Length: 16\r\n", strings.Repeat("a", 16)), want: []int{200}},
	}
}

func pathCases() []hcase {
	// Each must never reach the admin backend without a key; the final check in
	// TestHostile asserts that over every case.
	p := func(name, target string, want ...int) hcase {
		return hcase{name: name, raw: get(target), want: want, check: func(t *testing.T, e *env, r result) {
			if len(r.Replies) == 1 && r.Replies[0].Header.Get("X-Backend") == "admin" {
				t.Errorf("%s answered by the admin backend", target)
			}
		}}
	}
	return []hcase{
		p("dot-dot", "/public/../admin/p1", 401),
		p("encoded dot-dot", "/public/%2e%2e/admin/p2", 401),
		p("encoded dot-dot upper", "/public/%2E%2E/admin/p3", 401),
		p("mixed dot-dot", "/public/.%2e/admin/p4", 401),
		p("dot then dot-dot", "/public/./../admin/p5", 401),
		p("double slash", "//admin/p6", 401),
		p("triple slash", "///admin///p7", 401),
		p("encoded letter", "/%61dmin/p8", 401),
		p("encoded slash kept", "/admin%2fp9", 404),
		p("encoded slash dot-dot kept", "/public/..%2fadmin/p10", 200),
		p("upper case", "/ADMIN/p11", 404),
		p("backslash", "/public/..\\admin/p12", 200),
		p("encoded backslash", "/public/..%5cadmin/p13", 200),
		p("dot-dot with params", "/public/..;/admin/p14", 400),
		p("climb above root", "/../admin/p15", 400),
		p("nul", "/public/%00/../admin/p16", 400),
		p("double encoded", "/public/%252e%252e/admin/p17", 200),
		p("absolute-form", "http://evil.test/admin/p18", 401),
		p("absolute-form other host public", "http://evil.test/public/p19", 200),
		p("query looks like path", "/admin/p20?x=/public/", 401),
		p("no leading slash", "admin/p21", 400),
		p("asterisk", "*", 400),
	}
}

func forwardingCases() []hcase {
	withKey := "X-Api-Key: " + apiKey + "\r\n"
	return []hcase{
		{
			name: "spoofed consumer", raw: get("/public/fw-spoof", "X-Consumer: alice\r\nx-consumer: bob\r\nX_Consumer: carol\r\n"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				got := expectOne(t, e.pub, "fw-spoof")
				for k, v := range got.Header {
					if dashFold(k, "x-consumer") {
						t.Errorf("backend saw %s: %q", k, v)
					}
				}
			},
		},
		{
			name: "spoofed consumer replaced", raw: get("/admin/fw-replace", withKey+"X-Consumer: root\r\n"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				if got := expectOne(t, e.adm, "fw-replace").Header.Values("X-Consumer"); len(got) != 1 || got[0] != "alice" {
					t.Errorf("backend X-Consumer = %q, want [alice]", got)
				}
			},
		},
		{
			name: "connection names gateway fields", raw: get("/admin/fw-conn", withKey+"Connection: X-Forwarded-For, X-Consumer, X-Request-Id, Forwarded, Via\r\nX-Forwarded-For: 6.6.6.6\r\n"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				got := expectOne(t, e.adm, "fw-conn").Header
				if v := got.Get("X-Forwarded-For"); v != "127.0.0.1" {
					t.Errorf("backend X-Forwarded-For = %q, want 127.0.0.1", v)
				}
				if v := got.Get("X-Consumer"); v != "alice" {
					t.Errorf("backend X-Consumer = %q, want alice", v)
				}
				if got.Get("X-Request-Id") == "" || !strings.Contains(got.Get("Via"), "gantry") || !strings.Contains(got.Get("Forwarded"), "for=127.0.0.1") {
					t.Errorf("backend lost gateway fields: X-Request-Id %q Via %q Forwarded %q", got.Get("X-Request-Id"), got.Get("Via"), got.Get("Forwarded"))
				}
				if got.Get("Connection") != "" {
					t.Errorf("backend Connection = %q, want none", got.Get("Connection"))
				}
			},
		},
		{
			// A field listed in Connection is for this hop only: dropped before auth.
			name: "connection names the api key", raw: get("/admin/fw-key", withKey+"Connection: X-Api-Key\r\n"),
			want: []int{401}, never: []string{"fw-key"},
		},
		{
			name: "underscore forwarding alias", raw: get("/public/fw-under", "X_Forwarded_For: 6.6.6.6\r\n"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				if e.pub.rawContains("6.6.6.6") {
					t.Errorf("backend received the client's X_Forwarded_For")
				}
			},
		},
		{
			name: "hop-by-hop fields", raw: get("/public/fw-hop", "Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\nProxy-Authorization: Basic eDp5\r\nTE: gzip\r\n"),
			want: []int{200}, check: func(t *testing.T, e *env, r result) {
				got := expectOne(t, e.pub, "fw-hop").Header
				for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Te"} {
					if v := got.Get(h); v != "" {
						t.Errorf("backend saw %s: %q", h, v)
					}
				}
			},
		},
	}
}

func upgradeCases() []hcase {
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	return []hcase{
		{
			// The backend declines (200): the connection must stay HTTP, so the next
			// request is routed and authorised, not tunnelled.
			name: "websocket to a non-websocket backend", raw: get("/public/up-ws", ws) + smuggled("SMUGGLE-ws"),
			replies: 2, want: []int{200, 401}, never: []string{"SMUGGLE-ws"},
		},
		{
			name: "h2c upgrade dropped", raw: get("/public/up-h2c", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n") + smuggled("SMUGGLE-h2c"),
			replies: 2, want: []int{200, 401}, never: []string{"SMUGGLE-h2c", "Upgrade: h2c", "Http2-Settings"},
		},
	}
}

// slowloris sends a request head one byte per 200ms: the gateway must close the
// connection soon after its read_header timeout (1s), and the backend see nothing.
func slowloris(t *testing.T, e *env) {
	c, err := net.Dial("tcp", e.web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head := "GET /public/slowloris HTTP/1.1\r\nHost: gw.test\r\nX-Slow: " + strings.Repeat("a", 100)
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		// The gateway may answer 408 before closing; either way the read ends.
		io.Copy(io.Discard, c)
		closed <- time.Since(start)
	}()
	limit := e.readHeader + 5*time.Second
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(head); i++ {
		select {
		case d := <-closed:
			if e.pub.rawContains("slowloris") {
				t.Errorf("backend saw the slowloris request")
			}
			t.Logf("closed after %v (%d bytes sent)", d.Round(time.Millisecond), i)
			return
		case <-tick.C:
		}
		if time.Since(start) > limit {
			break
		}
		if _, err := c.Write([]byte{head[i]}); err != nil {
			break // closed under us
		}
	}
	select {
	case d := <-closed:
		if d > limit {
			t.Errorf("connection closed after %v, want within %v", d, limit)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("connection still open %v after the first byte, read_header is %v", time.Since(start), e.readHeader)
	}
}

// idle checks a keep-alive connection is closed after the idle timeout (2s), and not
// right away.
func idle(t *testing.T, e *env) {
	c, err := net.Dial("tcp", e.web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, get("/public/idle"))
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(replyWait))
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("no reply: %v", err)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(e.idle + 8*time.Second))
	for {
		if _, err := c.Read(buf); err != nil {
			if !isClosed(err) {
				t.Fatalf("idle connection not closed within %v: %v", e.idle+8*time.Second, err)
			}
			break
		}
	}
	if d := time.Since(start); d < e.idle/2 {
		t.Errorf("idle connection closed after %v, want about %v", d, e.idle)
	}
}

// dashFold compares a field name with a lower-case one, taking "_" for "-".
func dashFold(name, f string) bool {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-") == f
}
