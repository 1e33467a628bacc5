package gateway

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/h1"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/problem"
	"github.com/gantrygw/gantry/internal/router"
)

// fastHandler runs the gateway's request path (snapshot, request ID and trace,
// normalise, route, policy chain, pick) for the dedicated HTTP/1.1 engine, the hot path
// of plain-HTTP listeners. The engine does the I/O; this adapter decides. What the
// engine does not do (TLS, HTTP/2, upgrades, body matching, and route features listed
// in fastRoute) goes to net/http through Fallback, so behaviour never depends on which
// engine served a request.
type fastHandler struct {
	g        *Gateway
	listener string
}

// fastState is one request's state from Route to Done, pooled.
type fastState struct {
	snap  *Snapshot
	route *route
	rec   observe.Record
	rreq  router.Request
	res   router.Result
	preq  policy.Request
	// answered is set when the gateway made the answer (rec.Reason must survive Done).
	answered bool
}

var fastPool = sync.Pool{New: func() any { return new(fastState) }}

var _ h1.Handler = (*fastHandler)(nil)

// Route implements h1.Handler.
func (h *fastHandler) Route(req *h1.Request, d *h1.Decision) {
	snap := h.g.snap.Load()
	rt := snap.http[h.listener]
	if rt == nil {
		d.Kind = h1.Fallback
		return
	}
	st := fastPool.Get().(*fastState)
	st.snap = snap
	rec := &st.rec
	peer := req.RemoteAddr()
	rec.Method, rec.Host, rec.Path, rec.ClientIP = req.Method(), req.Host(), req.Path(), peer.Addr()
	snap.obs.Start(context.Background(), req, rec)
	d.User = st
	d.RequestID = rec.RequestID
	d.RespHeader.Set(observe.RequestIDHeader, rec.RequestID)
	// Client-supplied copies of the consumer header never reach a backend.
	d.Header.Del(snap.consumerHeader)
	// Underscore aliases of fields the gateway sets (X_Forwarded_For, X_Consumer) are
	// dropped, as on the net/http path (see aliasOf); framing aliases the engine refused.
	for i := 0; i < req.NumHeaders(); i++ {
		if name, _ := req.HeaderAt(i); bytes.IndexByte(name, '_') >= 0 {
			if n := string(name); aliasOf(n, snap.consumerHeader) == aliasStrip {
				d.Header.Del(n)
			}
		}
	}
	// Fields the client names in Connection are hop-by-hop: gone before policies see
	// them, so "Connection: X-Api-Key" cannot authenticate and "Connection: X-Consumer"
	// cannot remove what auth sets (the net/http path does the same in admit).
	for _, v := range req.Values("Connection") {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if name = strings.Trim(name, " \t"); name != "" && !keptConnectionToken(name) {
				d.Header.Del(name)
			}
		}
	}

	// Always set, after the Connection-listed fields are gone: a client naming
	// X-Request-Id in Connection must not remove the gateway's.
	d.Header.Set(observe.RequestIDHeader, rec.RequestID)

	client, trusted := snap.client(peer, req.Values)
	rec.ClientIP = client
	if rt.ipFilter != nil && !rt.ipFilter.Allowed(client) {
		h.answer(st, d, problem.Forbidden.WithDetail("client address not allowed"))
		return
	}
	path, ok := router.NormalizePathWith(req.Path(), snap.normalize)
	if !ok {
		h.answer(st, d, problem.BadRequest.WithDetail("invalid request path"))
		return
	}
	rec.Path = path
	st.rreq = router.Request{Method: req.Method(), Host: req.Host(), Path: path, RawQuery: req.RawQuery(), Header: req}
	if need, _ := rt.router.NeedsBody(&st.rreq); need {
		h.fallback(st, d) // body matching buffers the body: net/http's path does that
		return
	}
	rt.router.Match(&st.rreq, &st.res)
	switch st.res.Status {
	case 0:
	case 405:
		d.RespHeader.Set("Allow", st.res.Allow)
		h.answer(st, d, problem.MethodNotAllowed)
		return
	default:
		h.answer(st, d, problem.NoRoute)
		return
	}
	rte := rt.routes[st.res.Route]
	if !rte.fast {
		h.fallback(st, d)
		return
	}
	st.route = rte
	rec.Route = rte.metrics

	if rte.chain.Len() > 0 {
		p := &st.preq
		*p = policy.Request{
			Method: req.Method(), Host: req.Host(), Path: path, RawQuery: req.RawQuery(),
			Header: &d.Header, RespHeader: &d.RespHeader, Client: netip.AddrPortFrom(client, 0), Peer: peer,
			Route: rte.cfg.Name, ContentLength: req.ContentLength(),
		}
		a := rte.chain.Apply(p)
		if p.Consumer != nil {
			rec.Consumer = p.Consumer.Name
		}
		if a != nil {
			for k, v := range a.Header {
				d.RespHeader.Set(k, v)
			}
			if a.NoBody {
				st.answered = true
				rec.Status, rec.Reason = a.Status, a.Reason
				d.Kind, d.Status = h1.Answer, a.Status
				return
			}
			h.answer(st, d, answerProblem(a))
			return
		}
		d.MaxBodyBytes = p.LimitBody
	}

	d.Kind = h1.Forward
	forwardTo(d, rte, req, req.RawQuery(), path, client, trusted)
	d.Path = rt.router.Rewrite(st.res.Route, path, &st.res.Params)
	if rw := rte.cfg.Rewrite; rw != nil && rw.Host != "" {
		d.Host = rw.Host
	}
	rec.Inject(&d.Header)
}

// forwardTo fills the upstream half of an engine Decision for rte: picker and hash
// key, passive health, forwarding trust, timeouts and retries (with the upstream's
// retry budget counting this request). Both engine paths use it: HTTP/1.1 requests
// (fastHandler.Route) and HTTP/2 requests forwarded through the engine
// (handler.serveEngine), so a route behaves the same over either protocol.
func forwardTo(d *h1.Decision, rte *route, h balancer.KeySource, rawQuery, path string, client netip.Addr, trusted bool) {
	u := rte.up
	d.Picker = u.set
	d.Info.ClientIP = client
	if u.hashKey.Kind != "" {
		d.Info.Key = u.hashKey.Value(h, rawQuery, path, client)
	}
	if u.outlier != nil {
		d.Observer = u.outlier
	}
	d.RawQuery = rawQuery
	d.TrustForwarded = trusted
	d.ConnectTimeout = rte.cfg.Timeouts.Connect.D()
	d.ResponseHeaderTimeout = rte.cfg.Timeouts.ResponseHeader.D()
	d.Retry = rte.fastRetry
	if u.budget != nil {
		u.budget.Request()
		d.Retry.Budget = u.budget
	}
}

// recordExchange copies what the engine learned about one exchange into rec (bytes,
// upstream time, retries, the target) and, when up is set, counts the try in the
// target's metrics with status. Status and reason are the caller's: only it knows
// whether the gateway answered instead of the upstream. Shared by HTTP/1.1 requests
// (fastHandler.Done) and HTTP/2 requests forwarded through Exchange (serveEngine).
func recordExchange(rec *observe.Record, r *h1.Result, up *upstream, status int) {
	rec.BytesIn, rec.BytesOut = r.BytesIn, r.BytesOut
	rec.UpstreamDuration = r.Upstream
	if r.Tries > 1 {
		rec.Retries = r.Tries - 1
	}
	if t := r.Target; t != nil {
		rec.Target = t.URL
		if up != nil {
			up.observeTry(t, status, r.Upstream)
		}
	}
}

// Done implements h1.Handler: one metrics update and one access-log line.
func (h *fastHandler) Done(req *h1.Request, d *h1.Decision, r *h1.Result) {
	st, _ := d.User.(*fastState)
	if st == nil {
		return
	}
	rec := &st.rec
	if !st.answered || r.Status != 0 {
		rec.Status = r.Status
	}
	if !st.answered || r.Reason != "" {
		rec.Reason = r.Reason
	}
	var up *upstream
	if st.route != nil {
		up = st.route.up
	}
	recordExchange(rec, r, up, r.Status)
	st.snap.obs.End(rec)
	st.preq.Done(rec.Status)
	d.User = nil
	*st = fastState{}
	fastPool.Put(st)
}

// answer makes the gateway's own answer as problem+json (d.User is st, so problemFor
// records it).
func (h *fastHandler) answer(st *fastState, d *h1.Decision, p problem.Problem) {
	d.Kind = h1.Answer
	problemFor(nil, d, p)
}

// fallback hands the request to net/http, which accounts for it itself.
func (h *fastHandler) fallback(st *fastState, d *h1.Decision) {
	d.Kind = h1.Fallback
	d.User = nil
	*st = fastState{}
	fastPool.Put(st)
}

// problemFor renders the engine's own errors (400, 413, 431, 502, ...) like the gateway's.
func problemFor(req *h1.Request, d *h1.Decision, p problem.Problem) {
	if st, _ := d.User.(*fastState); st != nil {
		st.answered = true
		st.rec.Status, st.rec.Reason = p.Status, p.Reason
	}
	d.Status = p.Status
	d.ContentType = problem.ContentType
	d.Body = p.JSON(d.RequestID)
	d.RespHeader.Set("Cache-Control", "no-store")
}

// fastRoute reports whether the engine can serve a route exactly as net/http would; the
// rest falls back. The engine speaks plain HTTP/1.1 upstream and has no request-wide
// deadline, per-try timer, circuit breaker or sticky cookie.
func fastRoute(rc *config.Route, u *upstream) bool {
	if u.transport == nil || u.breaker != nil || u.cfg.Balance == balancer.StickyName {
		return false
	}
	for _, t := range u.set.Targets() {
		if t.Scheme != "http" {
			return false
		}
	}
	if rc.Timeouts.Request > 0 {
		return false
	}
	if r := rc.Retries; r != nil && r.PerTryTimeout > 0 {
		return false
	}
	return true
}

// fastRetry turns a route's retries into the engine's policy (Attempts counts the first
// try there).
func fastRetry(rc *config.Route) h1.Retry {
	p := retryPolicy(rc.Retries)
	return h1.Retry{Attempts: p.Attempts + 1, OnConnect: p.OnConnect, OnTimeout: p.OnTimeout, OnStatus: p.Statuses, NonIdempotent: p.NonIdempotent}
}
