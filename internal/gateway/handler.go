package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/gantrygw/gantry/internal/h1"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/policy/auth"
	"github.com/gantrygw/gantry/internal/problem"
	"github.com/gantrygw/gantry/internal/proxy"
	"github.com/gantrygw/gantry/internal/router"
)

// handler serves one http listener: it loads the current snapshot once per request,
// then runs the request path described in STYLE.md (request ID and trace → normalise →
// route → chain → terminal), and ends with one metrics update and one access-log line.
type handler struct {
	g        *Gateway
	listener string
	tls      bool
	hard     hardening
	// engine is the listener's HTTP/1.1 engine (nil without one); HTTP/2 requests on
	// routes it can serve reach their upstream through its connection pool.
	engine *h1.Server
}

// exchange is the per-request scratch space, pooled so the request path does not
// allocate it each time.
type exchange struct {
	rreq router.Request
	res  router.Result
	preq policy.Request
	ex   proxy.Exchange
	rec  observe.Record
	// d and er are the engine's decision and result when serveEngine forwards.
	d  h1.Decision
	er h1.Result
	// abort asks ServeHTTP to abort the stream after accounting (a cut response).
	abort bool
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.g.snap.Load()
	x := exchangePool.Get().(*exchange)
	rec := &x.rec
	rec.Method, rec.Host, rec.Path = r.Method, r.Host, r.URL.Path
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	rec.ClientIP = peer.Addr()
	ctx := snap.obs.Start(r.Context(), r.Header, rec)
	if ctx != r.Context() {
		r = r.WithContext(ctx) // tracing on: the span travels in the context
	}
	if r.Header.Get(observe.RequestIDHeader) != rec.RequestID {
		r.Header.Set(observe.RequestIDHeader, rec.RequestID)
	}
	w.Header().Set(observe.RequestIDHeader, rec.RequestID)

	h.serve(w, r, snap, x, peer)

	if rec.BytesIn == 0 && r.ContentLength > 0 {
		rec.BytesIn = r.ContentLength
	}
	snap.obs.End(rec)
	x.preq.Done(rec.Status)
	abort := x.abort
	*x = exchange{}
	exchangePool.Put(x)
	if abort {
		panic(http.ErrAbortHandler)
	}
}

// fail answers with a gateway-made problem and records it.
func fail(w http.ResponseWriter, r *http.Request, rec *observe.Record, p problem.Problem) {
	rec.Status, rec.Reason = p.Status, p.Reason
	problem.Write(w, r, p, rec.RequestID)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, snap *Snapshot, x *exchange, peer netip.AddrPort) {
	rec := &x.rec
	if !h.hard.admit(w, r, rec, snap.consumerHeader) {
		return
	}
	rt := snap.http[h.listener]
	if rt == nil { // listener removed by a reload while this connection lived on
		fail(w, r, rec, problem.NoRoute)
		return
	}
	if rt.hsts != "" {
		w.Header().Set("Strict-Transport-Security", rt.hsts)
	}
	// Client-supplied copies of the consumer header never reach a backend, whatever the route.
	auth.StripConsumerHeader(r.Header, snap.consumerHeader)
	client, trusted := snap.client(peer, r.Header.Values)
	rec.ClientIP = client
	if rt.ipFilter != nil && !rt.ipFilter.Allowed(client) {
		fail(w, r, rec, problem.Forbidden.WithDetail("client address not allowed"))
		return
	}

	// Normalise before routing and policies, so "/public/../admin" is "/admin" for all
	// of them and for the upstream.
	path, ok := router.NormalizePathWith(r.URL.EscapedPath(), snap.normalize)
	if !ok {
		fail(w, r, rec, problem.BadRequest.WithDetail("invalid request path"))
		return
	}
	rec.Path = path
	x.rreq = router.Request{Method: r.Method, Host: hostOnly(r.Host), Path: path, RawQuery: r.URL.RawQuery, Header: r.Header}
	if need, max := rt.router.NeedsBody(&x.rreq); need && r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		if err != nil {
			fail(w, r, rec, problem.BadRequest.WithDetail("could not read request body"))
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
		fail(w, r, rec, problem.MethodNotAllowed)
		return
	default:
		fail(w, r, rec, problem.NoRoute)
		return
	}
	rte := rt.routes[x.res.Route]
	rec.Route = rte.metrics

	if rte.chain.Len() > 0 {
		p := &x.preq
		*p = policy.Request{
			Method: r.Method, Host: x.rreq.Host, Path: path, RawQuery: r.URL.RawQuery,
			Header: r.Header, RespHeader: w.Header(), Client: netip.AddrPortFrom(client, 0), Peer: peer, TLS: r.TLS,
			Route: rte.cfg.Name, ContentLength: r.ContentLength,
		}
		a := rte.chain.Apply(p)
		if p.Consumer != nil {
			rec.Consumer = p.Consumer.Name
		}
		if a != nil {
			writeAnswer(w, r, a, rec)
			return
		}
		if p.LimitBody > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, p.LimitBody)
		}
	}

	ex := &x.ex
	ex.RequestID = rec.RequestID
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
	rec.Inject(r.Header)
	if h.viaEngine(r, rte) {
		h.serveEngine(w, r, x, rte, client, trusted)
		return
	}
	rte.proxy.Serve(w, r, ex)
	rec.Status, rec.Reason, rec.Target = ex.Status, ex.Reason, ex.Target
	rec.BytesOut, rec.UpstreamDuration = ex.BytesOut, ex.UpstreamDuration
	if ex.Tries > 1 {
		rec.Retries = ex.Tries - 1
	}
}

// writeAnswer renders a policy's early answer.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *policy.Answer, rec *observe.Record) {
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	rec.Status, rec.Reason = a.Status, a.Reason
	if a.NoBody {
		w.WriteHeader(a.Status)
		return
	}
	problem.Write(w, r, answerProblem(a), rec.RequestID)
}

// answerProblem is a policy's early answer as a problem (both engines render it).
func answerProblem(a *policy.Answer) problem.Problem {
	return problem.Problem{Status: a.Status, Reason: a.Reason, Title: http.StatusText(a.Status), Detail: a.Detail}
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
