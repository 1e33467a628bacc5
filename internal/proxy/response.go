package proxy

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// bufPool holds the 32 KiB copy buffers of response bodies and upgraded connections.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// respond streams res to the client: headers (hop-by-hop removed), status, body
// (flushed as it arrives for streams), trailers. It ends the try on t.
func (c *call) respond(res *http.Response, t *balancer.Target, begin time.Time, cancel context.CancelFunc) {
	if cancel != nil {
		defer cancel()
	}
	rtt := time.Since(begin)
	if res.StatusCode == http.StatusSwitchingProtocols {
		c.switchProtocols(res, t, begin)
		return
	}
	removeHopByHop(res.Header)
	dst := c.w.Header()
	for k, vv := range res.Header {
		if prev, ok := dst[k]; ok {
			dst[k] = append(prev, vv...)
		} else {
			dst[k] = vv
		}
	}
	// Trailers the upstream declared are declared to the client too, so HTTP/1.1
	// clients get them; any others are sent with http.TrailerPrefix after the body.
	var declared []string
	if len(res.Trailer) > 0 {
		declared = make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			declared = append(declared, k)
		}
		dst["Trailer"] = []string{strings.Join(declared, ", ")}
	}
	c.setSticky(t)
	c.ex.Status = res.StatusCode
	c.w.WriteHeader(res.StatusCode)

	var rc *http.ResponseController
	if res.ContentLength == -1 || streaming(res.Header["Content-Type"]) {
		// FlushInterval -1 semantics: events and gRPC messages must not wait in a buffer.
		rc = http.NewResponseController(c.w)
		if err := rc.Flush(); err != nil {
			rc = nil
		}
	}
	n, rerr, werr := copyBody(c.w, res.Body, rc)
	c.ex.BytesOut = n
	res.Body.Close()
	c.ex.UpstreamDuration = time.Since(c.start)

	if rerr != nil && c.r.Context().Err() == nil {
		// The upstream broke (or the request deadline hit) mid-body. Ending the handler
		// normally would look like a complete, truncated response; aborting the
		// connection (or HTTP/2 stream) tells the client it is incomplete.
		c.done(t, rtt, res.StatusCode, true)
		c.ex.Reason = "upstream_aborted"
		c.logf(slog.LevelWarn, "upstream failed mid-stream", t, rerr)
		panic(http.ErrAbortHandler)
	}
	if rerr != nil || werr != nil {
		t.State.End(rtt, res.StatusCode >= 500)
		c.ex.Reason = "client_closed"
		c.logf(slog.LevelDebug, "client went away mid-stream", t, errors.Join(rerr, werr))
		return
	}
	c.done(t, rtt, res.StatusCode, res.StatusCode >= 500)

	for k, vv := range res.Trailer {
		if !contains(declared, k) {
			k = http.TrailerPrefix + k
		}
		dst[k] = vv
	}
}

// streaming reports whether a Content-Type is an event stream or gRPC.
func streaming(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	v := ct[0]
	return strings.HasPrefix(v, "text/event-stream") || strings.HasPrefix(v, "application/grpc")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// copyBody copies the response body with a pooled buffer, flushing after each write
// when rc is set. rerr is an upstream read failure, werr a client write failure.
func copyBody(w io.Writer, body io.Reader, rc *http.ResponseController) (n int64, rerr, werr error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		nr, er := body.Read(buf)
		if nr > 0 {
			nw, ew := w.Write(buf[:nr])
			n += int64(nw)
			if ew == nil && nw < nr {
				ew = io.ErrShortWrite
			}
			if ew != nil {
				return n, nil, ew
			}
			if rc != nil {
				if ef := rc.Flush(); ef != nil {
					return n, nil, ef
				}
			}
		}
		if er == io.EOF {
			return n, nil, nil
		}
		if er != nil {
			return n, er, nil
		}
	}
}

// StickyValue is the sticky cookie value that names a target: a stable hash of its URL
// (hex FNV-1a 64), so the cookie reveals no address and survives reloads. The sticky
// balancer must map Info.Sticky back to a target with the same function.
func StickyValue(targetURL string) string {
	var b [16]byte
	return string(appendSticky(b[:0], targetURL))
}

func appendSticky(b []byte, targetURL string) []byte {
	const hex = "0123456789abcdef"
	h := fnv.New64a()
	_, _ = io.WriteString(h, targetURL)
	s := h.Sum64()
	for i := 60; i >= 0; i -= 4 {
		b = append(b, hex[(s>>uint(i))&15])
	}
	return b
}

// setSticky pins the client to t when it was not pinned to it already.
func (c *call) setSticky(t *balancer.Target) {
	name := c.h.o.StickyCookie
	if name == "" {
		return
	}
	var buf [16]byte
	v := appendSticky(buf[:0], t.URL)
	if string(v) == c.info.Sticky {
		return
	}
	cookie := name + "=" + string(v) + "; Path=/; HttpOnly; SameSite=Lax"
	if c.r.TLS != nil || c.ex.Proto == "https" {
		cookie += "; Secure"
	}
	c.w.Header().Add("Set-Cookie", cookie)
}

// answerBad is the answer for a response that cannot be forwarded.
func (c *call) answerBad(t *balancer.Target, rtt time.Duration, err error) {
	c.done(t, rtt, 0, true)
	c.logf(slog.LevelWarn, "bad upstream response", t, err)
	c.answer(problem.UpstreamBadResponse)
}
