package gateway

import (
	"bytes"
	"errors"
	"net"
	"sync"
)

// Why a second look at the raw bytes: net/http resolves some ambiguous framings
// silently before a handler runs. With both "Transfer-Encoding: chunked" and a
// Content-Length it drops the Content-Length (RFC 9112 section 6.3 allows that); it
// ignores Transfer-Encoding on HTTP/1.0 requests; it folds obs-fold lines and takes a
// bare LF as a line end. Each is harmless inside Go, but a proxy in front of the gateway
// that framed the same bytes differently has been smuggled past (issue 4 asks for 400
// and close). The handler only sees the parsed header, so the listener's connections
// are wrapped in a rawConn whose framer follows the HTTP/1.1 message boundaries of the
// bytes net/http reads and queues one verdict per request head; the handler pops it.
//
// The framer is strict where net/http is lenient and never the other way round: a head
// it accepts is framed by net/http exactly as by the framer (same method, target and
// body length; FuzzFraming checks this against http.ReadRequest). After a rejected head,
// or bytes it cannot follow (an upgraded connection, an HTTP/2 preface), it stops and
// every later request on the connection is refused: no verdict means no trust.
//
// Only plaintext listeners are wrapped: net/http must see a *tls.Conn itself to offer
// HTTP/2 over ALPN, so on TLS listeners the dedicated HTTP/1.1 engine (internal/h1) is
// the place for this check.

// Framing problems. They are the detail of a 400 answer, so they are client-safe.
var (
	errBareLF        = errors.New("line ends in a bare LF")
	errBareCR        = errors.New("bare CR in the request head")
	errObsFold       = errors.New("obsolete line folding")
	errHeaderName    = errors.New("invalid header field name")
	errHeaderValue   = errors.New("invalid character in a header field value")
	errContentLength = errors.New("invalid Content-Length")
	errCLMismatch    = errors.New("duplicate Content-Length")
	errTEDuplicate   = errors.New("more than one Transfer-Encoding field")
	errTEUnsupported = errors.New("Transfer-Encoding other than chunked")
	errTEWithCL      = errors.New("both Transfer-Encoding and Content-Length")
	errTEHTTP10      = errors.New("Transfer-Encoding in an HTTP/1.0 request")
	errNoVerdict     = errors.New("request framing could not be followed")
)

// headVerdict is the framer's view of one request head.
type headVerdict struct {
	sum uint64 // requestSum of method and target: is it the request net/http parsed?
	err error  // nil: the framing is unambiguous
}

// requestSum hashes a request's method and target (FNV-1a) so a verdict can be matched
// with net/http's request without keeping copies of either. It detects a framer out of
// step with net/http, not an adversary: the client chose both strings anyway.
func requestSum(method, target []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range method {
		h = (h ^ uint64(c)) * 1099511628211
	}
	h = (h ^ ' ') * 1099511628211
	for _, c := range target {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

func requestSumString(method, target string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(method); i++ {
		h = (h ^ uint64(method[i])) * 1099511628211
	}
	h = (h ^ ' ') * 1099511628211
	for i := 0; i < len(target); i++ {
		h = (h ^ uint64(target[i])) * 1099511628211
	}
	return h
}

// Framer states.
const (
	stLine       = iota // request line
	stHeader            // header field lines
	stBody              // Content-Length body or chunk data: skip left bytes
	stChunkSize         // chunk-size line
	stChunkCRLF         // the CRLF after chunk data
	stTrailer           // trailer field lines after the last chunk
	stStopped           // no longer following the stream
	maxChunkLine = 4096 // net/http's limit too
	maxVerdicts  = 64   // pipelined heads queued at most
)

// framer follows HTTP/1.1 message boundaries over a byte stream. Not safe for
// concurrent use; rawConn serialises it.
type framer struct {
	state   int
	maxHead int    // bytes of one head (request line and fields) before it gives up
	line    []byte // the current line, without its line end
	lineCR  bool   // the last byte fed was a CR ending line
	headLen int
	left    int64 // stBody bytes to skip
	inChunk bool  // stBody is chunk data (then stChunkCRLF follows)

	// The head being read.
	cur       headVerdict
	http10    bool
	cl        []byte // trimmed first Content-Length value, nil if none
	haveCL    bool
	clN       int64
	te        int  // Transfer-Encoding fields seen
	teChunked bool // the first one is exactly "chunked" (any case)

	verdicts []headVerdict
}

func newFramer(maxHead int) *framer {
	return &framer{maxHead: maxHead}
}

// feed advances the framer over p.
func (f *framer) feed(p []byte) {
	for len(p) > 0 && f.state != stStopped {
		switch f.state {
		case stBody:
			n := int64(len(p))
			if n > f.left {
				n = f.left
			}
			f.left -= n
			p = p[n:]
			if f.left == 0 {
				if f.inChunk {
					f.state = stChunkCRLF
					f.line = f.line[:0]
				} else {
					f.state = stLine
				}
			}
		case stChunkCRLF:
			f.line = append(f.line, p[0])
			p = p[1:]
			if len(f.line) == 2 {
				if f.line[0] != '\r' || f.line[1] != '\n' {
					f.stop()
					return
				}
				f.line = f.line[:0]
				f.state = stChunkSize
			}
		default:
			p = f.feedLine(p)
		}
	}
}

// feedLine collects one line and hands it to the state's line handler.
func (f *framer) feedLine(p []byte) []byte {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		f.line = append(f.line, p...)
		f.headLen += len(p)
		f.tooLong()
		return nil
	}
	line := p[:i]
	if len(f.line) > 0 { // the line began in an earlier read
		f.line = append(f.line, line...)
		line = f.line
	}
	bareLF := len(line) == 0 || line[len(line)-1] != '\r'
	if !bareLF {
		line = line[:len(line)-1]
	}
	f.headLen += i + 1
	if len(line) > f.limit() || f.headLen > f.limit() {
		f.stop() // net/http answers 431 (or fails the body) itself
		return nil
	}
	f.onLine(line, bareLF)
	if f.line != nil {
		f.line = f.line[:0]
	}
	return p[i+1:]
}

func (f *framer) limit() int {
	if f.state == stChunkSize {
		return maxChunkLine
	}
	return f.maxHead
}

func (f *framer) tooLong() {
	if len(f.line) > f.limit() || f.headLen > f.limit() {
		f.stop() // net/http answers 431 (or fails the body) itself
	}
}

func (f *framer) stop() {
	f.state = stStopped
	f.line, f.cl = nil, nil
}

func (f *framer) onLine(line []byte, bareLF bool) {
	switch f.state {
	case stLine:
		if len(line) == 0 && !bareLF {
			f.headLen = 0
			return // RFC 9112 section 2.2: an empty line before a request line is ignored
		}
		f.startHead(line, bareLF)
	case stHeader:
		if len(line) == 0 {
			if bareLF {
				f.fail(errBareLF)
			}
			f.endHead()
			return
		}
		f.headerLine(line, bareLF)
	case stChunkSize:
		f.headLen = 0
		size, ok := parseChunkSize(line)
		if !ok || bareLF {
			f.stop() // net/http fails the body read on these too
			return
		}
		if size == 0 {
			f.state = stTrailer
			return
		}
		f.state, f.left, f.inChunk = stBody, size, true
	case stTrailer:
		if bareLF {
			f.stop()
			return
		}
		if len(line) == 0 {
			f.state, f.headLen = stLine, 0
		}
	}
}

func (f *framer) startHead(line []byte, bareLF bool) {
	method, rest, ok1 := cutByte(line, ' ')
	target, proto, ok2 := cutByte(rest, ' ')
	if !ok1 || !ok2 || len(proto) != 8 || string(proto[:7]) != "HTTP/1." || proto[7] < '0' || proto[7] > '9' {
		// Not HTTP/1.x: net/http rejects it, or it is the HTTP/2 preface ("PRI * HTTP/2.0").
		f.stop()
		return
	}
	f.cur = headVerdict{sum: requestSum(method, target)}
	f.http10 = proto[7] == '0'
	f.cl, f.haveCL, f.clN, f.te, f.teChunked = f.cl[:0], false, 0, 0, false
	f.state = stHeader
	if bareLF {
		f.fail(errBareLF)
	}
	if indexByte(line, '\r') >= 0 {
		f.fail(errBareCR)
	}
}

// fail records the first problem of the current head.
func (f *framer) fail(err error) {
	if f.cur.err == nil {
		f.cur.err = err
	}
}

func (f *framer) headerLine(line []byte, bareLF bool) {
	if bareLF {
		f.fail(errBareLF)
	}
	if line[0] == ' ' || line[0] == '\t' {
		f.fail(errObsFold) // RFC 9112 section 5.2: a server may reject it with 400
		return
	}
	name, value, ok := cutByte(line, ':')
	if !ok || len(name) == 0 {
		f.fail(errHeaderName)
		return
	}
	for _, c := range name {
		if !isTChar(c) { // also "Name : v", RFC 9112 section 5.1
			f.fail(errHeaderName)
			return
		}
	}
	value = trimOWS(value)
	for _, c := range value {
		if c < 0x20 && c != '\t' || c == 0x7f {
			if c == '\r' {
				f.fail(errBareCR)
			} else {
				f.fail(errHeaderValue)
			}
			return
		}
	}
	switch {
	case equalFoldBytes(name, "content-length"):
		f.contentLength(value)
	case equalFoldBytes(name, "transfer-encoding"):
		f.te++
		if f.te == 1 {
			f.teChunked = equalFoldBytes(value, "chunked")
		}
	}
}

// contentLength checks one Content-Length field: digits only (no sign, no list, no
// hex), fitting an int63, and textually equal to any earlier one (as net/http compares).
func (f *framer) contentLength(v []byte) {
	if len(v) == 0 {
		f.fail(errContentLength)
		return
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			f.fail(errContentLength)
			return
		}
		if n > (1<<63-1-9)/10 {
			f.fail(errContentLength)
			return
		}
		n = n*10 + int64(c-'0')
	}
	if f.haveCL {
		// Even identical duplicates: one message, one length (as nginx and the HTTP/1.1
		// engine refuse them too, so both engines agree).
		f.fail(errCLMismatch)
		return
	}
	f.cl, f.haveCL, f.clN = append(f.cl[:0], v...), true, n
}

func (f *framer) endHead() {
	switch {
	case f.te > 0 && f.http10:
		f.fail(errTEHTTP10) // RFC 9112 section 6.1: faulty framing, close
	case f.te > 1:
		f.fail(errTEDuplicate)
	case f.te == 1 && !f.teChunked:
		f.fail(errTEUnsupported)
	case f.te == 1 && f.haveCL:
		f.fail(errTEWithCL) // RFC 9112 section 6.3: "ought to be handled as an error"
	}
	if len(f.verdicts) == maxVerdicts {
		f.stop()
		return
	}
	f.verdicts = append(f.verdicts, f.cur)
	f.headLen = 0
	switch {
	case f.cur.err != nil:
		f.stop() // the handler refuses it and closes; nothing after it can be framed
	case f.te == 1:
		f.state = stChunkSize
	case f.clN > 0:
		f.state, f.left, f.inChunk = stBody, f.clN, false
	default:
		f.state = stLine
	}
}

// next pops the verdict for the oldest request head not yet handled.
func (f *framer) next() (headVerdict, bool) {
	if len(f.verdicts) == 0 {
		return headVerdict{}, false
	}
	v := f.verdicts[0]
	copy(f.verdicts, f.verdicts[1:])
	f.verdicts[len(f.verdicts)-1] = headVerdict{}
	f.verdicts = f.verdicts[:len(f.verdicts)-1]
	return v, true
}

// parseChunkSize parses "hex[;ext]" as net/http does (extensions ignored, at most 16
// hex digits).
func parseChunkSize(line []byte) (int64, bool) {
	if i := indexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// rawConn is a client connection whose inbound bytes a framer follows.
type rawConn struct {
	net.Conn
	mu sync.Mutex // net/http reads from a background goroutine while a handler runs
	f  *framer
}

func (c *rawConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.f.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// CloseWrite half-closes the connection when the wrapped one can (upgraded
// connections relay a half-close).
func (c *rawConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c when it can, else reports errors.ErrUnsupported so the
// caller knows the peer will not see EOF. Every wrapper of an accepted connection
// passes CloseWrite through this way: a wrapper that dropped it made HTTP/2's and the
// engine's lingering closes wait for their deadlines instead of ending at once.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// verdict returns the framing problem of the request net/http parsed as method and
// target, or nil. A request the framer did not see, or saw differently, is a problem.
func (c *rawConn) verdict(method, target string) error {
	c.mu.Lock()
	v, ok := c.f.next()
	c.mu.Unlock()
	switch {
	case !ok:
		return errNoVerdict
	case v.err != nil:
		return v.err
	case v.sum != requestSumString(method, target):
		return errNoVerdict
	}
	return nil
}

// rawListener wraps accepted connections in rawConns.
type rawListener struct {
	net.Listener
	maxHead int
}

func (l *rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: c, f: newFramer(l.maxHead)}, nil
}

func cutByte(b []byte, sep byte) (before, after []byte, ok bool) {
	if i := indexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldBytes compares b with the lower-case ASCII string s, ignoring case.
func equalFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// isTChar reports whether c may appear in a field name (RFC 9110 section 5.6.2).
func isTChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
