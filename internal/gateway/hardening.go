package gateway

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/problem"
)

// hardening holds a listener's checks on what a client sends, beyond those net/http
// makes itself (MaxHeaderBytes → 431, ReadHeaderTimeout and IdleTimeout against
// slowloris, malformed lines, CR/NUL in values, differing Content-Lengths, unknown
// transfer codings → 400 or 501 and close). They run first in the handler, before the
// request is routed, authorised or forwarded; see docs/security.md, "Hardening".
type hardening struct {
	maxURI      int // request target bytes (414)
	maxHeaders  int // header fields, Host included (431)
	maxRequests int // per connection, 0 = no limit
	maxHead     int // bytes of a request head the framer follows (0: no framer)
}

func newHardening(lc *config.Listener) hardening {
	h := hardening{
		maxURI:      int(lc.Limits.MaxURILength),
		maxHeaders:  lc.Limits.MaxHeaderCount,
		maxRequests: lc.Limits.MaxRequestsPerConnection,
	}
	if lc.TLS == nil {
		// net/http reads up to MaxHeaderBytes plus 4096 bytes of slack before its 431.
		h.maxHead = int(lc.Limits.MaxHeaderBytes) + 4096
	}
	return h
}

// wrap returns ln with the raw framing check on its connections (plaintext only).
func (h *hardening) wrap(ln net.Listener) net.Listener {
	if h.maxHead == 0 {
		return ln
	}
	return &rawListener{Listener: ln, maxHead: h.maxHead}
}

// connInfo is what the handler knows of a request's connection.
type connInfo struct {
	requests atomic.Int64 // HTTP/2 serves a connection's streams concurrently
	raw      *rawConn     // nil on TLS listeners
}

type connInfoKey struct{}

// hardenConnContext is the http.Server.ConnContext of gateway listeners: it gives each
// connection a connInfo the handler finds in the request's context.
func hardenConnContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{}
	ci.raw, _ = c.(*rawConn)
	return context.WithValue(ctx, connInfoKey{}, ci)
}

// admit runs the checks on r. When one fails it answers (and closes the connection
// after the answer) and returns false; the caller must then stop. It may also remove
// fields from r.Header (a request to switch to h2c, underscore aliases of fields the
// gateway sets, see below) and ask for the connection to close after this request when
// the per-connection limit is reached. consumer is the consumer header's name.
func (h *hardening) admit(w http.ResponseWriter, r *http.Request, rec *observe.Record, consumer string) bool {
	ci, _ := r.Context().Value(connInfoKey{}).(*connInfo)
	if r.ProtoMajor == 1 && ci != nil && ci.raw != nil {
		if err := ci.raw.verdict(r.Method, r.RequestURI); err != nil {
			h.refuse(w, r, rec, problem.BadRequest.WithDetail("ambiguous or malformed request framing: "+err.Error()))
			return false
		}
	}
	if len(r.RequestURI) > h.maxURI {
		h.refuse(w, r, rec, problem.URITooLong)
		return false
	}
	n := 0
	if r.Host != "" {
		n = 1 // net/http moves Host out of the header map
	}
	if v := r.Header[observe.RequestIDHeader]; len(v) == 1 && v[0] == rec.RequestID {
		n-- // set by the gateway (or the client's own, adopted): not the client's extra field
	}
	for k, vv := range r.Header {
		n += len(vv)
		if strings.IndexByte(k, '_') >= 0 {
			switch aliasOf(k, consumer) {
			case aliasFraming:
				h.refuse(w, r, rec, problem.BadRequest.WithDetail("ambiguous or malformed request framing: underscore variant of a framing header field"))
				return false
			case aliasStrip:
				delete(r.Header, k) // deleting the current key while ranging is allowed
				continue
			}
		}
		if hasCRLFNUL(k) {
			h.refuse(w, r, rec, problem.BadRequest.WithDetail("invalid character in a header field name"))
			return false
		}
		for _, v := range vv {
			if hasCRLFNUL(v) {
				h.refuse(w, r, rec, problem.BadRequest.WithDetail("invalid character in a header field value"))
				return false
			}
		}
	}
	if n > h.maxHeaders {
		h.refuse(w, r, rec, problem.HeadersTooLarge.WithDetail("too many header fields"))
		return false
	}
	if r.ProtoMajor == 1 && len(r.Header["Connection"]) > 0 {
		dropConnectionListed(r.Header)
	}
	// An "Upgrade: h2c" passed on would let a backend that speaks h2c switch the
	// connection to HTTP/2 and take every later stream on it straight from the client,
	// past routing and policies (h2c smuggling). RFC 9113 section 3.1 retired the
	// upgrade; a server may ignore Upgrade (RFC 9110 section 7.8), so it is dropped.
	if up := r.Header["Upgrade"]; len(up) > 0 && hasH2C(up) {
		delete(r.Header, "Upgrade")
		delete(r.Header, "Http2-Settings")
	}
	if ci != nil && h.maxRequests > 0 && r.ProtoMajor == 1 {
		if ci.requests.Add(1) >= int64(h.maxRequests) {
			w.Header().Set("Connection", "close") // net/http closes after this answer
		}
	}
	return true
}

// refuse answers p and makes net/http close the connection after it: a client that
// sent this may have framed more than the gateway parsed.
func (h *hardening) refuse(w http.ResponseWriter, r *http.Request, rec *observe.Record, p problem.Problem) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	fail(w, r, rec, p)
}

// Underscore aliases. CGI-style backends (PHP, WSGI, Rack) and some proxies read
// "X_Consumer" as "X-Consumer": both become HTTP_X_CONSUMER. net/http keeps them as
// different fields, so a client could pass a forged consumer or forwarding header that
// the gateway's own stripping never matched. nginx drops every underscore field by
// default; the gateway drops only those that alias a field it sets itself, and refuses
// aliases of the framing fields.
const (
	aliasNone = iota
	aliasStrip
	aliasFraming
)

// aliasFields are the fields the gateway sets or strips itself (proxy and auth).
var aliasFields = [...]string{
	"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
	"forwarded", "x-request-id", "via",
}

func aliasOf(name, consumer string) int {
	if consumer == "" {
		consumer = config.DefaultConsumerHeader
	}
	switch {
	case dashFold(name, "transfer-encoding"), dashFold(name, "content-length"):
		return aliasFraming
	case dashFold(name, strings.ToLower(consumer)):
		return aliasStrip
	}
	for _, f := range aliasFields {
		if dashFold(name, f) {
			return aliasStrip
		}
	}
	return aliasNone
}

// dashFold compares name with the lower-case field f, ignoring case and taking "_"
// for "-".
func dashFold(name, f string) bool {
	if len(name) != len(f) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == '_' {
			c = '-'
		}
		if c != f[i] {
			return false
		}
	}
	return true
}

// dropConnectionListed removes the fields a client names in Connection now, before
// routing and policies, and leaves in Connection only the tokens the proxy still acts
// on (upgrade, te; close and keep-alive are net/http's). The proxy strips whatever
// Connection names when it forwards (RFC 9110 section 7.6.1); had the client's list
// survived until then, "Connection: X-Consumer" would remove the consumer header the
// auth policy set, and so for forwarded claims. A field listed in Connection is meant
// for this hop only, so it does not take part in authentication either.
func dropConnectionListed(h http.Header) {
	changed := false
	for _, v := range h["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.Trim(tok, " \t")
			switch {
			case tok == "":
			case keptConnectionToken(tok):
			default:
				changed = true
				for k := range h {
					if strings.EqualFold(k, tok) && k != "Connection" {
						delete(h, k)
					}
				}
			}
		}
	}
	if !changed {
		return
	}
	var keep []string
	for _, v := range h["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = strings.Trim(tok, " \t"); keptConnectionToken(tok) {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

func keptConnectionToken(tok string) bool {
	return strings.EqualFold(tok, "upgrade") || strings.EqualFold(tok, "te") ||
		strings.EqualFold(tok, "close") || strings.EqualFold(tok, "keep-alive")
}

// hasCRLFNUL reports whether s holds a byte that would end or cut a header line.
func hasCRLFNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= '\r' && (c == '\r' || c == '\n' || c == 0) {
			return true
		}
	}
	return false
}

func hasH2C(vv []string) bool {
	for _, v := range vv {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(tok, " \t"), "h2c") {
				return true
			}
		}
	}
	return false
}
