package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/policy/auth"
	"github.com/gantrygw/gantry/internal/problem"
	"github.com/gantrygw/gantry/internal/proxy"
	"github.com/gantrygw/gantry/internal/router"
)

// handler serves one http listener: it loads the current snapshot once per request,
// then runs the request path described in STYLE.md (request ID → normalise → route →
// chain → terminal).
type handler struct {
	g        *Gateway
	listener string
	tls      bool
}

// exchange is the per-request scratch space, pooled so the request path does not
// allocate it each time.
type exchange struct {
	rreq router.Request
	res  router.Result
	preq policy.Request
	ex   proxy.Exchange
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

const headerRequestID = "X-Request-Id"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.g.snap.Load()
	x := exchangePool.Get().(*exchange)
	defer func() {
		*x = exchange{preq: policy.Request{}}
		exchangePool.Put(x)
	}()

	id := r.Header.Get(headerRequestID)
	if !validRequestID(id) {
		id = newRequestID()
		r.Header.Set(headerRequestID, id)
	}
	w.Header().Set(headerRequestID, id)

	rt := snap.http[h.listener]
	if rt == nil { // listener removed by a reload while this connection lived on
		problem.Write(w, r, problem.NoRoute, id)
		return
	}

	if rt.hsts != "" {
		w.Header().Set("Strict-Transport-Security", rt.hsts)
	}
	// Client-supplied copies of the consumer header never reach a backend, whatever the route.
	auth.StripConsumerHeader(r.Header, snap.consumerHeader)
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	client := peer.Addr()
	trusted := snap.clientIP.Trusted(client)
	if trusted {
		client = snap.clientIP.ClientValues(peer, r.Header.Values("X-Forwarded-For"))
	}
	if rt.ipFilter != nil && !rt.ipFilter.Allowed(client) {
		problem.Write(w, r, problem.Forbidden.WithDetail("client address not allowed"), id)
		return
	}

	path, ok := router.NormalizePathWith(r.URL.EscapedPath(), snap.normalize)
	if !ok {
		problem.Write(w, r, problem.BadRequest.WithDetail("invalid request path"), id)
		return
	}
	x.rreq = router.Request{Method: r.Method, Host: hostOnly(r.Host), Path: path, RawQuery: r.URL.RawQuery, Header: r.Header}
	if need, max := rt.router.NeedsBody(&x.rreq); need && r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		if err != nil {
			problem.Write(w, r, problem.BadRequest.WithDetail("could not read request body"), id)
			return
		}
		if int64(len(body)) <= max {
			x.rreq.Body = body // larger bodies are not matched on, but still forwarded whole
		}
		r.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(body), r.Body), Closer: r.Body}
	}
	rt.router.Match(&x.rreq, &x.res)
	switch x.res.Status {
	case 0:
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", x.res.Allow)
		problem.Write(w, r, problem.MethodNotAllowed, id)
		return
	default:
		problem.Write(w, r, problem.NoRoute, id)
		return
	}
	rte := rt.routes[x.res.Route]

	if rte.chain.Len() > 0 {
		p := &x.preq
		*p = policy.Request{
			Method: r.Method, Host: x.rreq.Host, Path: path, RawQuery: r.URL.RawQuery,
			Header: r.Header, RespHeader: w.Header(), Client: netip.AddrPortFrom(client, 0), Peer: peer, TLS: r.TLS,
			Route: rte.cfg.Name, ContentLength: r.ContentLength,
		}
		if a := rte.chain.Apply(p); a != nil {
			writeAnswer(w, r, a, id)
			p.Done(a.Status)
			return
		}
		if p.LimitBody > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, p.LimitBody)
		}
		defer func() { p.Done(x.ex.Status) }()
	}

	ex := &x.ex
	ex.RequestID = id
	ex.ClientIP = client
	ex.Trusted = trusted
	ex.Proto = "http"
	if h.tls {
		ex.Proto = "https"
	}
	ex.OutPath = rt.router.Rewrite(x.res.Route, path, &x.res.Params)
	if rw := rte.cfg.Rewrite; rw != nil && rw.Host != "" {
		ex.OutHost = rw.Host
	}
	rte.proxy.Serve(w, r, ex)
}

// writeAnswer renders a policy's early answer.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *policy.Answer, id string) {
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	if a.NoBody {
		w.WriteHeader(a.Status)
		return
	}
	p := problem.Problem{Status: a.Status, Reason: a.Reason, Title: http.StatusText(a.Status), Detail: a.Detail}
	problem.Write(w, r, p, id)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// hostOnly returns the host without port, lower case; it allocates only when the host
// has upper-case letters.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
