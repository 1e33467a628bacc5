package h2

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// bodyBufSize is how much response body a stream collects before sending DATA: small
// responses go out as HEADERS (with Content-Length) plus one DATA frame, in one write.
const bodyBufSize = 8 << 10

// responseWriter is a stream's http.ResponseWriter (and http.Flusher).
type responseWriter struct {
	st          *stream
	hdr         http.Header
	status      int
	wroteHeader bool // a final status is set
	sentHeader  bool // the response HEADERS are queued
	head        bool
	done        bool  // the handler returned (guarded by c.mu)
	declLen     int64 // Content-Length the handler set, -1 when none
	written     int64
	trailers    []string // declared in the Trailer field at WriteHeader
	buf         []byte
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

// SiblingsSending reports whether other handlers of the connection are running
// (h1.SendBatcher): their upstream sends are then batched with this one's.
func (w *responseWriter) SiblingsSending() bool {
	c := w.st.c
	c.mu.Lock()
	n := c.handlers
	c.mu.Unlock()
	return n > 1
}

func (w *responseWriter) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header, 4)
	}
	return w.hdr
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		code = http.StatusInternalServerError // a handler bug; answer something valid
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.informational(code)
		return
	}
	w.Header()
	w.status, w.wroteHeader = code, true
	if v := w.hdr["Content-Length"]; len(v) == 1 {
		if n, ok := parseContentLength(v[0]); ok {
			w.declLen = n
		}
	}
	for _, v := range w.hdr["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" {
				w.trailers = append(w.trailers, k)
			}
		}
	}
}

// informational sends a 1xx response (e.g. 103 Early Hints) at once.
func (w *responseWriter) informational(code int) {
	c := w.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.st.reset || c.closed {
		return
	}
	c.writeHeadersLocked(w.st, code, w.Header(), nil, false, -1, nil, true)
	c.flushLocked()
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declLen >= 0 && w.written+int64(len(p)) > w.declLen {
		return 0, ErrContentLength
	}
	w.written += int64(len(p))
	if w.head {
		return len(p), nil
	}
	if len(w.buf)+len(p) <= bodyBufSize {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.send(p, false, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError sends the headers and any buffered body now (http.ResponseController).
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.send(nil, false, true)
}

// send queues the headers (once), the buffered body, then p as DATA; end closes the
// stream; flush writes to the socket even if more is expected.
func (w *responseWriter) send(p []byte, end, flush bool) error {
	st := w.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := st.sendErrLocked(); err != nil {
		return err
	}
	if !w.sentHeader {
		cl := int64(-1)
		if end && w.declLen < 0 && len(w.trailers) == 0 && bodyAllowed(w.status) && !w.head && !w.hasPrefixedTrailers() {
			cl = int64(len(w.buf) + len(p))
		}
		endNow := end && len(w.buf)+len(p) == 0 && !w.anyTrailers()
		sniff := w.buf
		if len(sniff) == 0 {
			sniff = p
		}
		c.writeHeadersLocked(st, w.status, w.hdr, w.trailers, endNow, cl, sniff, false)
		w.sentHeader = true
		st.responded = true
		if endNow {
			return c.endLocked(st)
		}
	}
	trailers := end && w.anyTrailers()
	sentEnd := false
	if len(w.buf) > 0 {
		sentEnd = end && len(p) == 0 && !trailers
		err := c.writeDataLocked(st, w.buf, sentEnd)
		w.buf = w.buf[:0]
		if err != nil {
			return err
		}
	}
	if len(p) > 0 || end && !trailers && !sentEnd {
		// An empty final frame carries END_STREAM when nothing else is left to send.
		if err := c.writeDataLocked(st, p, end && !trailers); err != nil {
			return err
		}
	}
	if trailers {
		c.writeHeadersLocked(st, 0, w.trailerFields(), nil, true, -1, nil, false)
	}
	if end {
		return c.endLocked(st)
	}
	if flush || len(c.wbuf) >= softWriteLimit {
		c.flushLocked()
	}
	return nil
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.declLen >= 0 && w.written < w.declLen && !w.head {
		w.st.abort() // shorter than declared: the client must not take it as complete
		return
	}
	_ = w.send(nil, true, true)
}

func (w *responseWriter) anyTrailers() bool {
	return len(w.trailers) > 0 || w.hasPrefixedTrailers()
}

func (w *responseWriter) hasPrefixedTrailers() bool {
	for k := range w.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// trailerFields collects the trailers: declared names set after WriteHeader, and
// fields named with http.TrailerPrefix.
func (w *responseWriter) trailerFields() http.Header {
	t := http.Header{}
	for _, k := range w.trailers {
		if vv := w.hdr[k]; len(vv) > 0 && httpguts.ValidTrailerHeader(k) {
			t[k] = vv
		}
	}
	for k, vv := range w.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if k = http.CanonicalHeaderKey(k[len(http.TrailerPrefix):]); httpguts.ValidTrailerHeader(k) {
				t[k] = vv
			}
		}
	}
	return t
}

// sendErrLocked reports why nothing can be sent on st any more.
func (st *stream) sendErrLocked() error {
	switch {
	case st.c.closed:
		return ErrConnClosed
	case st.reset:
		return ErrStreamReset
	case st.localClosed:
		return ErrConnClosed
	}
	return nil
}

// endLocked records that END_STREAM is queued and writes. A client still sending its
// body is told to stop (RFC 9113 section 8.1: RST_STREAM NO_ERROR after a complete
// response).
func (c *conn) endLocked(st *stream) error {
	st.localClosed = true
	if !st.remoteClosed {
		c.resetLocked(st, http2.ErrCodeNo, true)
	} else {
		c.removeLocked(st)
	}
	c.flushLocked()
	return nil
}

// writeDataLocked queues p as DATA frames within the stream and connection send
// windows and the peer's frame size, waiting for window when it is exhausted. end
// sets END_STREAM on the last frame (an empty p sends an empty frame).
func (c *conn) writeDataLocked(st *stream, p []byte, end bool) error {
	for {
		if err := st.sendErrLocked(); err != nil {
			return err
		}
		if len(c.wbuf) >= softWriteLimit {
			if !c.writing {
				c.flushLocked()
			} else {
				c.cond.Wait()
			}
			continue
		}
		n := int64(len(p))
		n = min(n, int64(c.peerFrame), st.sendWindow, c.sendWindow)
		if n <= 0 && len(p) > 0 {
			// Window exhausted: what is queued must reach the peer before it can
			// answer with WINDOW_UPDATE.
			if len(c.wbuf) > 0 && !c.writing {
				c.flushLocked()
				continue
			}
			c.cond.Wait()
			continue
		}
		chunk := p[:n]
		p = p[n:]
		last := end && len(p) == 0
		if err := c.wfr.WriteData(st.id, last, chunk); err != nil {
			return err
		}
		st.sendWindow -= n
		c.sendWindow -= n
		if len(p) == 0 {
			return nil
		}
	}
}

// writeHeadersLocked encodes a response header block (or trailers when status is 0)
// and queues it as HEADERS plus CONTINUATION frames as the peer's frame size needs.
// skip lists declared trailer names, sent later; cl >= 0 adds Content-Length; sniff,
// when the handler set no Content-Type, is the body start to detect one from.
func (c *conn) writeHeadersLocked(st *stream, status int, hdr http.Header, skip []string, end bool, cl int64, sniff []byte, interim bool) {
	c.hbuf.Reset()
	if status != 0 {
		c.field(":status", statusText(status))
	}
	for k, vv := range hdr {
		if skipResponseField(k) || slices.Contains(skip, k) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		lk := c.lowerName(k)
		unindexed := slices.Contains(c.s.o.UnindexedFields, k)
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				continue
			}
			if unindexed {
				c.literalField(lk, v)
			} else {
				c.field(lk, v)
			}
		}
	}
	if status != 0 && !interim {
		if _, ok := hdr["Content-Type"]; !ok && len(sniff) > 0 && bodyAllowed(status) {
			c.field("content-type", http.DetectContentType(sniff))
		}
		if _, ok := hdr["Date"]; !ok {
			c.field("date", c.s.dates.get())
		}
		if cl >= 0 {
			if _, ok := hdr["Content-Length"]; !ok {
				c.field("content-length", strconv.FormatInt(cl, 10))
			}
		}
	}
	block := c.hbuf.Bytes()
	first := true
	for {
		frag := block
		if len(frag) > c.peerFrame {
			frag = frag[:c.peerFrame]
		}
		block = block[len(frag):]
		endHeaders := len(block) == 0
		if first {
			_ = c.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: frag, EndStream: end, EndHeaders: endHeaders})
			first = false
		} else {
			_ = c.wfr.WriteContinuation(st.id, endHeaders, frag)
		}
		if endHeaders {
			return
		}
	}
}

func (c *conn) field(name, value string) {
	_ = c.henc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

// literalField appends name: value to the header block as a literal without indexing,
// new name (RFC 7541 section 6.2.2): no dynamic table entry on either side. The
// encoder offers only indexing or never-indexed (a promise meant for secrets); this is
// the representation the RFC suggests for values that do not repeat.
//
// Never first in a block: a dynamic table size update the encoder still owes the peer
// must come first (section 4.2), and the encoder writes it only with its next field.
// A block that would start with one (trailers) indexes it instead.
func (c *conn) literalField(name, value string) {
	if c.hbuf.Len() == 0 {
		c.field(name, value)
		return
	}
	b := c.hbuf.AvailableBuffer()
	b = append(b, 0x00) // 0000 0000: without indexing, new name
	b = appendString(b, name)
	b = appendString(b, value)
	c.hbuf.Write(b)
}

// appendString appends an HPACK string literal (RFC 7541 section 5.2), Huffman-coded
// when that is shorter.
func appendString(b []byte, s string) []byte {
	if n := hpack.HuffmanEncodeLength(s); n < uint64(len(s)) {
		b = appendInt(b, 0x80, 7, n)
		return hpack.AppendHuffmanString(b, s)
	}
	b = appendInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendInt appends i as an HPACK integer with an n-bit prefix (RFC 7541 section 5.1)
// in a first byte whose other bits are flags.
func appendInt(b []byte, flags byte, n uint, i uint64) []byte {
	lim := uint64(1)<<n - 1
	if i < lim {
		return append(b, flags|byte(i))
	}
	b = append(b, flags|byte(lim))
	for i -= lim; i >= 128; i >>= 7 {
		b = append(b, byte(i&0x7f|0x80))
	}
	return append(b, byte(i))
}

// skipResponseField reports fields HTTP/2 forbids or that describe the HTTP/1.1
// connection (RFC 9113 section 8.2.2), and trailer placeholders.
func skipResponseField(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te":
		return true
	}
	return strings.HasPrefix(k, http.TrailerPrefix)
}

// lowerName maps a field name to its HTTP/2 (lowercase) form (under the write lock).
func (c *conn) lowerName(k string) string {
	return cachedName(commonLower, c.lower, k, strings.ToLower)
}

var commonLower = func() map[string]string {
	m := map[string]string{}
	for lk, k := range commonCanonical {
		m[k] = lk
	}
	for _, k := range []string{
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
		"Allow", "Content-Disposition", "Content-Security-Policy", "Expires", "Location", "Retry-After",
		"Server", "Set-Cookie", "Strict-Transport-Security", "Vary", "Www-Authenticate", "X-Backend",
		"X-Content-Type-Options", "X-Frame-Options", "Grpc-Status", "Grpc-Message", "X-Ratelimit-Limit",
		"X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset",
	} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// statusText is the :status value for code.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 304:
		return "304"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}
