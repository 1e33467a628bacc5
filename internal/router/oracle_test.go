package router

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

// The oracle restates the documented priority (doc.go, docs/routing.md) directly on the
// config, route by route, with Explain's per-route verdicts (which match each route on
// its own, without the trie or the host tiers). Match must agree with it on every
// request; a disagreement is either a trie bug or an undocumented rule.

// oracleKey is a route's rank for a request: smaller wins.
func oracleKey(i int, r *config.Route, host string) []int {
	key := []int{}
	// 1. host
	best := []int{2, 0}
	anyHost := len(r.Match.Hosts) == 0
	for _, h := range r.Match.Hosts {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		switch {
		case h == "*":
			anyHost = true
		case strings.HasPrefix(h, "*."):
			if suf := h[1:]; len(host) > len(suf) && strings.HasSuffix(host, suf) && best[0] >= 1 {
				if best[0] == 2 || -len(suf) < best[1] {
					best = []int{1, -len(suf)}
				}
			}
		case h == host:
			best = []int{0, 0}
		}
	}
	if anyHost && best[0] == 2 {
		best = []int{2, 0}
	}
	key = append(key, best...)
	// 2. path: patterns before regexes; kinds end(0) < literal(1) < param(2) < tail(3)
	if r.Match.PathRegex != "" {
		key = append(key, 1)
	} else {
		key = append(key, 0)
		p := r.Match.Path
		if p == "" {
			p = "/*"
		}
		for _, s := range strings.Split(p[1:], "/") {
			switch {
			case s == "*":
				key = append(key, 3)
			case strings.HasPrefix(s, "{"):
				key = append(key, 2)
			default:
				key = append(key, 1)
			}
		}
		if !strings.HasSuffix(p, "*") {
			key = append(key, 0)
		}
	}
	// Pad so that the conditions and index compare at the same positions.
	for len(key) < 3+16 {
		key = append(key, -1)
	}
	// 3. more conditions first, 4. config order
	n := len(r.Match.Headers) + len(r.Match.Query) + len(r.Match.Body)
	if len(r.Match.Methods) > 0 {
		n++
	}
	return append(key, -n, i)
}

func less(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// oracle returns the expected winner, status and Allow for req.
func oracle(routes []*config.Route, cands []Candidate, host string) (win, status int, allow string) {
	win, status = -1, 404
	var best []int
	pathHit, methodHit := false, false
	allowSet := map[string]bool{}
	for i, c := range cands {
		switch c.Reason {
		case ReasonListener, ReasonHost, ReasonPath:
			continue
		case ReasonMethod:
			pathHit = true
			for _, m := range routes[i].Match.Methods {
				m = strings.ToUpper(m)
				allowSet[m] = true
				if m == "GET" {
					allowSet["HEAD"] = true
				}
			}
			continue
		}
		pathHit, methodHit = true, true
		if !c.Matched {
			continue
		}
		if k := oracleKey(i, routes[i], host); best == nil || less(k, best) {
			win, best = i, k
		}
	}
	if win >= 0 {
		return win, 0, ""
	}
	if pathHit && !methodHit {
		var names []string
		for _, m := range stdMethodNames {
			if allowSet[m] {
				names = append(names, m)
				delete(allowSet, m)
			}
		}
		var ext []string
		for m := range allowSet {
			ext = append(ext, m)
		}
		sortStrings(ext)
		return -1, 405, strings.Join(append(names, ext...), ", ")
	}
	return -1, 404, ""
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// checkAgainstOracle matches req and compares with the oracle; it returns a
// description of the first disagreement, or "".
func checkAgainstOracle(r *Router, routes []*config.Route, req *Request) string {
	var res Result
	r.Match(req, &res)
	cands := r.Explain(req)
	win, status, allow := oracle(routes, cands, hostKey(req.Host))
	if res.Route != win || res.Status != status || res.Allow != allow {
		return fmt.Sprintf("Match(%s %s %s ?%s) = %s/%d/%q, want %s/%d/%q",
			req.Method, req.Host, req.Path, req.RawQuery, routeName(r, res.Route), res.Status, res.Allow, routeName(r, win), status, allow)
	}
	if win >= 0 {
		got, want := res.Params, cands[win].Params
		same := got.N == want.N && got.Tail == want.Tail
		for k := 0; same && k < want.N; k++ {
			same = got.Names[k] == want.Names[k] && got.Values[k] == want.Values[k]
		}
		if !same {
			return fmt.Sprintf("Match(%s).Params = %+v, want %+v", req.Path, got, want)
		}
	}
	return ""
}

// randomTable builds n routes over a small alphabet so that overlaps are frequent.
func randomTable(rng *rand.Rand, n int) []*config.Route {
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	routes := make([]*config.Route, 0, n)
	for i := 0; i < n; i++ {
		r := &config.Route{Name: fmt.Sprintf("r%d", i)}
		if rng.Intn(6) == 0 {
			r.Match.PathRegex = pick(`/a/.*`, `/[ab]/b`, `/.*`, `/c(/.*)?`, `/a/b/?`)
		} else {
			var b strings.Builder
			segs := rng.Intn(4)
			for s := 0; s < segs; s++ {
				b.WriteString("/")
				switch rng.Intn(5) {
				case 0, 1, 2:
					b.WriteString(pick("a", "b", "c"))
				case 3:
					fmt.Fprintf(&b, "{p%d}", s)
				case 4:
					if s == segs-1 {
						b.WriteString("*")
					} else {
						b.WriteString("a")
					}
				}
			}
			if segs == 0 {
				b.WriteString(pick("/", "", "/*"))
			} else if rng.Intn(8) == 0 && !strings.HasSuffix(b.String(), "*") {
				b.WriteString("/")
			}
			r.Match.Path = b.String()
		}
		switch rng.Intn(6) {
		case 0:
			r.Match.Hosts = []string{"x.com"}
		case 1:
			r.Match.Hosts = []string{"*.x.com"}
		case 2:
			r.Match.Hosts = []string{"*.a.x.com", pick("x.com", "y.org")}
		}
		switch rng.Intn(4) {
		case 0:
			r.Match.Methods = []string{"GET"}
		case 1:
			r.Match.Methods = []string{"POST", pick("PUT", "PURGE")}
		}
		if rng.Intn(4) == 0 {
			r.Match.Headers = vm("X-A", pick2(rng, exact("1"), present(true), regex("[12]")))
		}
		if rng.Intn(5) == 0 {
			r.Match.Query = vm("q", pick2(rng, exact("1"), present(true), present(false)))
		}
		if rng.Intn(8) == 0 {
			r.Match.Body = vm("$.op", pick2(rng, exact("x"), present(true)))
		}
		if rng.Intn(10) == 0 {
			r.Listeners = []string{"web"}
		}
		routes = append(routes, r)
	}
	return routes
}

func pick2(rng *rand.Rand, xs ...config.ValueMatch) config.ValueMatch { return xs[rng.Intn(len(xs))] }

func randomRequest(rng *rand.Rand) *Request {
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	var b strings.Builder
	for s, n := 0, rng.Intn(5); s < n; s++ {
		b.WriteString("/")
		b.WriteString(pick("a", "b", "c", "d", ""))
	}
	path := b.String()
	if path == "" {
		path = "/"
	}
	req := &Request{
		Method:   pick("GET", "HEAD", "POST", "PUT", "PURGE", "DELETE"),
		Host:     pick("x.com", "a.x.com", "b.a.x.com", "y.org", "X.COM:80", ""),
		Path:     path,
		RawQuery: pick("", "q=1", "q", "r=2&q=3"),
		Listener: pick("", "web", "admin"),
	}
	if rng.Intn(2) == 0 {
		req.Header = hdr("X-A", pick("1", "2", "3"))
	}
	if rng.Intn(3) == 0 {
		req.Body = []byte(pick(`{"op":"x"}`, `{"op":"y"}`, `{`))
	}
	return req
}

func TestMatchAgreesWithOracle(t *testing.T) {
	t.Parallel()
	const tables, requests = 200, 60
	for seed := int64(1); seed <= tables; seed++ {
		rng := rand.New(rand.NewSource(seed))
		routes := randomTable(rng, 1+rng.Intn(12))
		r, err := Compile(routes)
		if err != nil {
			t.Fatalf("seed %d: Compile() error = %v", seed, err)
		}
		for i := 0; i < requests; i++ {
			req := randomRequest(rng)
			if msg := checkAgainstOracle(r, routes, req); msg != "" {
				for j, rt := range routes {
					t.Logf("route %d: %+v", j, rt.Match)
				}
				t.Fatalf("seed %d: %s", seed, msg)
			}
		}
	}
}
