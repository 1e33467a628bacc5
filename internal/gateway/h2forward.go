package gateway

import (
	"net/http"
	"net/netip"

	"github.com/gantrygw/gantry/internal/problem"
)

// viaEngine reports whether an HTTP/2 request on a route the HTTP/1.1 engine can serve
// goes to its upstream through the engine's connection pool (h1.Server.Exchange)
// instead of http.Transport. The Transport's per-connection read and write goroutines
// and their channel hand-offs cost about a third of an h2 request's CPU
// (docs/performance.md). gRPC and requests that announce trailers keep the net/http
// proxy, which carries TE and request trailers to the upstream.
func (h *handler) viaEngine(r *http.Request, rte *route) bool {
	if h.engine == nil || !rte.fast || r.ProtoMajor != 2 || r.Trailer != nil {
		return false
	}
	if _, te := r.Header["Te"]; te {
		return false
	}
	return !problem.IsGRPC(r.Header.Get("Content-Type"))
}

// serveEngine forwards r through the engine and records the outcome in x.rec. The
// Decision mirrors what fastHandler.Route sets for an HTTP/1.1 request on the same
// route; the request path before it (admission, routing, policies) was the net/http
// handler's.
func (h *handler) serveEngine(w http.ResponseWriter, r *http.Request, x *exchange, rte *route, client netip.Addr, trusted bool) {
	rec, ex, d, res := &x.rec, &x.ex, &x.d, &x.er
	u := rte.up
	d.RequestID = rec.RequestID
	forwardTo(d, rte, r.Header, r.URL.RawQuery, rec.Path, client, trusted)
	d.Path, d.Host = ex.OutPath, ex.OutHost
	d.MaxBodyBytes = x.preq.LimitBody
	p, answer := h.engine.Exchange(w, r, d, res)
	if answer {
		fail(w, r, rec, p)
	} else {
		rec.Status, rec.Reason = res.Status, res.Reason
	}
	recordExchange(rec, res, u, rec.Status)
	// A response cut mid-body must not look complete: ServeHTTP aborts the stream once
	// the request is accounted for.
	x.abort = res.Reason == "upstream_aborted"
}
