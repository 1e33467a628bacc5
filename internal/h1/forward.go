package h1

import (
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// Response body framing modes.
const (
	modeNone   = iota // HEAD, 1xx, 204, 304
	modeLength        // Content-Length
	modeChunked
	modeClose // delimited by the upstream closing the connection
)

// forwarder forwards one request through the upstream pool: pick, try, retry, send the
// request, read the response head, relay the body, pool or close the upstream
// connection. The engine's client connections (conn) and Server.Exchange both use it;
// what differs between them, where the request comes from and how the response
// reaches the client, is behind down. It runs on the exchange's goroutine.
type forwarder struct {
	s    *Server
	d    *Decision
	res  *Result
	down downstream
	// fl is flushed before the upstream reader blocks mid-body, so the client gets what
	// is batched for it before the engine waits (conn: its writer; Exchange: http.Flusher, when streaming).
	fl flusher

	method string
	body   []byte // the whole request body when it can be sent again, else nil
	replay bool   // the body (possibly none) can be sent again

	uw writer // to the upstream of the current try
	// first, when set, is the first try's target, picked and recorded (Tried, Tries,
	// Target) by the caller; sent, when set, is the upstream connection the first try's
	// request head went to at sentAt (the readiness loop sent it and handed the
	// exchange over: loop_linux.go), with any unsent rest in uw.buf. run clears both.
	first  *balancer.Target
	sent   *upConn
	sentAt time.Time
	// batch, when set, is asked before each upstream send whether sibling exchanges
	// of the same client connection are about to send too (Exchange: an HTTP/2
	// connection's other streams); then the goroutine yields once first, so their
	// sends follow each other and wake the upstream once (see SendBatcher).
	batch SendBatcher
	resp  response
	ucr   chunkedReader // response body
	tried [8]*balancer.Target
}

// downstream is the client's side of a forwarded exchange: *conn (forward_conn.go)
// writes HTTP/1.1 bytes to its client connection, *exchange (exchange.go) fills an
// http.ResponseWriter. Both are pooled pointers, so the handful of dynamic calls per
// exchange (one per body piece) allocate nothing.
type downstream interface {
	// problem answers the client with p: nothing of a response reached it yet.
	problem(p problem.Problem, err error)
	// appendRequestHead appends the upstream request head for t.
	appendRequestHead(b []byte, t *balancer.Target) []byte
	// sendBody sends a request body the forwarder does not hold whole. cerr is a
	// failure on the client's side, uerr one writing to the upstream.
	sendBody(uw *writer) (cerr, uerr error)
	// bodyFailed records the outcome after sendBody's cerr.
	bodyFailed(cerr error)
	// interim passes on an interim response head (1xx other than 101), or drops it.
	interim(p *response) error
	// head writes the final response head; sent is false when the request body was
	// cut short. outChunked asks for the body as chunks (the engine frames it).
	head(p *response, mode int, sent bool) (outChunked bool)
	// body writes response body bytes, as one chunk when chunked.
	body(p []byte, chunked bool) error
	// bodyAt writes the next k unread bytes of u's read buffer, not chunked.
	bodyAt(u *upConn, k int) error
	// end finishes a body relayed to its end; trailer holds the chunked body's
	// validated trailer lines.
	end(chunked bool, trailer []byte) error
	// clientErr is the error that stopped writes to the client, if any.
	clientErr() error
	// cut is told that the relay failed after the head went out.
	cut(err error)
}

// check refuses, with a problem, a forward that cannot start: no Picker, a Decision (or,
// valid false, a request) that would put invalid bytes on the wire, a body of length
// cl past MaxBodyBytes.
func (f *forwarder) check(valid bool, cl int64) bool {
	d := f.d
	if d.Picker == nil {
		f.down.problem(problem.NoTarget, balancer.ErrNoTarget)
		return false
	}
	if !validDecision(d) || !valid {
		f.down.problem(problem.Internal, errBadDecision)
		return false
	}
	if max := d.MaxBodyBytes; max > 0 && cl > max {
		f.down.problem(problem.PayloadTooLarge, errBodyTooLarge)
		return false
	}
	return true
}

// run picks, tries and retries until a try ends the exchange. The caller has set
// method, body and replay.
func (f *forwarder) run() {
	d, res := f.d, f.res
	attempts := max(d.Retry.Attempts, 1)
	first := f.first
	f.first = nil
	if first == nil {
		d.Info.Tried = f.tried[:0]
	}
	var next *balancer.Target
	var lastP problem.Problem
	var lastErr error
	for try := 1; ; try++ {
		t := next
		if try == 1 && first != nil {
			t = first
		} else {
			if t == nil {
				var err error
				t, err = d.Picker.Pick(&d.Info)
				if err != nil || t == nil {
					if try == 1 {
						if err == nil {
							err = balancer.ErrNoTarget
						}
						f.down.problem(problem.NoTarget, err)
					} else {
						f.down.problem(lastP, lastErr)
					}
					return
				}
			}
			d.Info.Tried = append(d.Info.Tried, t)
			res.Tries++
			res.Target = t
		}
		var again bool
		again, next, lastP, lastErr = f.try(t, try < attempts)
		if !again {
			return
		}
	}
}

// try runs one try against t. It returns again=true when it failed before anything
// reached the client and a retry is allowed; next is then the target to use (already
// picked when a retryable status had to be weighed against having another target), or
// nil to pick. Otherwise the client got a response, a problem, or the exchange aborted.
func (f *forwarder) try(t *balancer.Target, more bool) (again bool, next *balancer.Target, lastP problem.Problem, lastErr error) {
	s, d, res := f.s, f.d, f.res
	start := time.Now()
	res.Upstream = 0
	u, resumed := f.sent, f.sent != nil
	f.sent = nil
	if resumed {
		start = f.sentAt // the loop began the try (and called Begin)
	} else if t.State != nil {
		t.State.Begin()
	}
	failed := true
	defer func() { f.endTry(t, start, failed) }()
	resend := f.resendable()
	ct := d.ConnectTimeout
	if ct <= 0 {
		ct = s.o.ConnectTimeout
	}
	if !resumed {
		u = s.pool.get(t.Addr, start, nil)
	}
	sent := true // the whole request body reached the upstream
	for attempt := 0; ; attempt++ {
		var werr error // writing the request (when the engine holds it whole) failed
		if resumed && attempt == 0 {
			// The loop sent the head (any rest is in f.uw) and waited: finish the write
			// here, then read the answer.
			werr = f.uw.flush()
		} else {
			if u == nil {
				var err error
				if u, err = s.pool.dial(t.Addr, ct); err != nil {
					p := problem.UpstreamConnect
					if isTimeout(err) {
						p = problem.UpstreamTimeout
					}
					if more && d.Retry.OnConnect {
						return true, nil, p, err
					}
					f.down.problem(p, err)
					return false, nil, p, err
				}
			}
			f.uw.c, f.uw.dl, f.uw.err = u.c, &u.dl, nil
			f.uw.buf = f.down.appendRequestHead(f.uw.buf[:0], t)
			if f.replay {
				_ = f.uw.write(f.body)
				werr = f.flushAwait(u)
			} else {
				cerr, uerr := f.down.sendBody(&f.uw)
				if cerr != nil {
					u.close()
					f.down.bodyFailed(cerr)
					failed = false
					return false, nil, problem.Problem{}, cerr
				}
				if uerr != nil {
					// The upstream stopped taking the body. It may have answered early
					// (RFC 9112 section 9.5): read its response if there is one.
					sent = false
				}
			}
		}
		if werr != nil {
			u.close()
			u = nil
			if attempt == 0 && !isTimeout(werr) {
				continue // a stale pooled conn (or a reset fresh one): nothing was delivered
			}
			if more && d.Retry.OnConnect {
				return true, nil, problem.UpstreamConnect, werr
			}
			f.down.problem(problem.UpstreamConnect, werr)
			return false, nil, problem.UpstreamConnect, werr
		}
		if u.fast {
			u.takeBuf()
		}
		got, err := f.readHead(u)
		if err != nil {
			u.close()
			u = nil
			timeout := isTimeout(err)
			if !got && !timeout && attempt == 0 && resend && sent {
				continue // the pooled conn was closed under us: once more, fresh
			}
			p := problem.UpstreamBadResponse
			if timeout {
				p = problem.UpstreamTimeout
			}
			if more && resend && (timeout && d.Retry.OnTimeout || !timeout && !got && d.Retry.OnConnect) && d.Retry.allow() {
				return true, nil, p, err
			}
			f.down.problem(p, err)
			return false, nil, p, err
		}
		break
	}
	res.Upstream = time.Since(start)
	u.fast = res.Upstream < fastHead
	status := f.resp.status
	failed = status >= 500
	if more && resend && inList(status, d.Retry.OnStatus) && d.Retry.allow() {
		if n, err := d.Picker.Pick(&d.Info); err == nil && n != nil {
			u.close()
			return true, n, problem.UpstreamBadResponse, errRetryStatus
		}
	}
	f.relay(u, sent)
	return false, nil, problem.Problem{}, nil
}

// endTry reports a try's outcome to the target's state and the Decision's observer.
// The readiness loop ends the tries it finishes itself the same way.
func (f *forwarder) endTry(t *balancer.Target, start time.Time, failed bool) {
	if t.State != nil {
		rtt := f.res.Upstream
		if rtt == 0 {
			rtt = time.Since(start)
		}
		t.State.End(rtt, failed)
	}
	if f.d.Observer != nil {
		f.d.Observer.Observe(t, failed)
	}
}

// resendable reports whether the request may be sent again on a retry: its body (if
// any) is held whole, and its method is idempotent or the route allows it anyway.
func (f *forwarder) resendable() bool {
	return f.replay && (idempotent(f.method) || f.d.Retry.NonIdempotent)
}

func inList(v int, list []int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// pipeBody copies a request body from src to uw until src's io.EOF, as chunks when
// chunked. flushEach flushes after every piece, for a source that cannot flush uw
// before it blocks itself. cerr is a failure of src, uerr one writing to the upstream.
func pipeBody(uw *writer, src io.Reader, buf []byte, chunked, flushEach bool) (cerr, uerr error) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			var werr error
			if chunked {
				werr = uw.chunk(buf[:n])
			} else {
				werr = uw.write(buf[:n])
			}
			if werr == nil && flushEach {
				werr = uw.flush()
			}
			if werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if uw.err != nil { // the flush before a blocking client read failed
				return nil, uw.err
			}
			return err, nil
		}
	}
	if chunked {
		_ = uw.write(lastChunk)
		_ = uw.write(crlf) // request trailers are dropped: no backend relies on them
	}
	return nil, uw.flush()
}

// readHead reads the final response head into f.resp, handing interim responses
// to the client. got reports whether any byte arrived.
func (f *forwarder) readHead(u *upConn) (got bool, err error) {
	b, lim := &u.br, &f.s.lim
	got = b.w > b.r // bytes the loop read before it handed the exchange over
	if !u.armed {
		f.headDeadline(u)
	}
	u.armed = false
	for interim := 0; ; interim++ {
		if b.r > 0 {
			n := copy(b.buf, b.buf[b.r:b.w])
			b.r, b.w = 0, n
		}
		st := headState{}
		f.resp.reset()
		for {
			end, ok := parseResponseHead(&f.resp, b.buf[:b.w], &st, lim)
			if !ok {
				return true, errBadResponse
			}
			if end > 0 {
				b.r = end
				break
			}
			if b.w == len(b.buf) {
				if len(b.buf) >= lim.maxHeaderBytes {
					return true, errBadResponse
				}
				nb := make([]byte, min(2*len(b.buf), lim.maxHeaderBytes))
				copy(nb, b.buf[:b.w])
				b.buf = nb
				st = headState{}
				f.resp.reset()
				continue
			}
			n, rerr := u.read(b.buf[b.w:])
			if n > 0 {
				b.w += n
				got = true
				u.takeBuf()
				continue
			}
			if rerr == nil {
				rerr = errNoProgress
			} else if rerr == io.EOF && got {
				rerr = io.ErrUnexpectedEOF
			}
			return got, rerr
		}
		p := &f.resp
		if p.status >= 200 {
			return true, nil
		}
		// A 101 is invalid: nothing on this path asked to switch protocols.
		if p.status == 101 || interim >= maxInterim {
			return true, errTooManyInterm
		}
		if err := f.down.interim(p); err != nil {
			return true, err
		}
	}
}

// headDeadline sets the read deadline for the response head.
func (f *forwarder) headDeadline(u *upConn) {
	if rht := f.d.ResponseHeaderTimeout; rht > 0 {
		u.dl.readExact(u.c, rht)
	} else {
		u.dl.read(u.c)
	}
}

// flushAwait writes the request batched in f.uw to u, like f.uw.flush, and, when it
// left in one non-blocking write, waits for the answer in the same poll (awaiter), so
// readHead's first read finds bytes instead of EAGAIN. The head's read deadline is set
// before the wait.
func (f *forwarder) flushAwait(u *upConn) error {
	w := &f.uw
	if w.err != nil || len(w.buf) == 0 {
		return w.flush()
	}
	f.headDeadline(u)
	u.armed = true
	if f.batch != nil && f.batch.SiblingsSending() {
		runtime.Gosched()
	}
	n, err := u.writeAwait(w.buf)
	if err != nil {
		w.buf, w.err = w.buf[:0], err
		return err
	}
	if n < len(w.buf) { // the socket buffer was full: the rest the ordinary way
		rest := copy(w.buf, w.buf[n:])
		w.buf = w.buf[:rest]
		return w.flush()
	}
	w.buf = w.buf[:0]
	return nil
}

// relay has the client write the response head, streams the body to it, then pools or
// closes the upstream connection. sent is false when the request body was cut short.
func (f *forwarder) relay(u *upConn, sent bool) {
	res, p := f.res, &f.resp
	mode := modeClose
	switch {
	case bodyless(f.method, p.status):
		mode = modeNone
	case p.chunked:
		mode = modeChunked
	case p.contentLength >= 0:
		mode = modeLength
	}
	outChunked := f.down.head(p, mode, sent)
	res.Status = p.status

	var err error
	switch mode {
	case modeLength:
		err = f.copyLength(u, p.contentLength)
	case modeChunked:
		err = f.copyChunked(u, outChunked)
	case modeClose:
		err = f.copyUntilClose(u, outChunked)
	}
	u.br.fl = nil
	if err != nil {
		u.close()
		if cerr := f.down.clientErr(); cerr != nil {
			res.Reason, res.Err = "client_aborted", cerr
		} else {
			res.Reason, res.Err = "upstream_aborted", err
			f.s.o.Logger.Debug("h1: upstream aborted mid-response", "target", u.addr, "cause", err)
		}
		f.down.cut(err)
		return
	}
	f.s.pool.release(u, p.close || mode == modeClose || !sent)
}

// copyLength relays a body of left bytes. The client writes the bytes from where they
// landed in the upstream connection's read buffer (the head's read usually brought the
// whole body of a small or 16 KiB response with it), so a body is read once and never
// copied through a second buffer; the reader flushes what is batched for the client
// before it blocks. Bytes read past the body stay buffered, and pool.put then refuses
// the connection (an upstream that sends more than it framed is not reused).
func (f *forwarder) copyLength(u *upConn, left int64) error {
	b := &u.br
	for {
		if bufd := b.buffered(); len(bufd) > 0 {
			k := len(bufd)
			if int64(k) > left {
				k = int(left)
			}
			if err := f.down.bodyAt(u, k); err != nil {
				return err
			}
			b.r += k
			left -= int64(k)
			f.res.BytesOut += int64(k)
		}
		if left == 0 {
			return nil
		}
		if b.fl == nil {
			b.fl = f.fl
			u.dl.read(u.c)
		}
		if err := b.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// copyChunked relays a chunked body, re-chunked when outChunked. Like copyLength it
// writes decoded bytes from where they landed in the upstream read buffer.
func (f *forwarder) copyChunked(u *upConn, outChunked bool) error {
	f.ucr.reset(&u.br)
	u.br.fl = f.fl
	u.dl.read(u.c)
	for {
		v, err := f.ucr.next()
		if len(v) > 0 {
			if werr := f.emit(v, outChunked); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return f.down.end(outChunked, f.ucr.trailer)
}

// copyUntilClose relays a body delimited by the upstream closing the connection.
func (f *forwarder) copyUntilClose(u *upConn, outChunked bool) error {
	b := &u.br
	b.fl = f.fl
	u.dl.read(u.c)
	for {
		if v := b.buffered(); len(v) > 0 {
			if err := f.emit(v, outChunked); err != nil {
				return err
			}
			b.r = b.w
		}
		if err := b.fill(); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
	}
	return f.down.end(outChunked, nil)
}

// emit has the client write response body bytes and counts them.
func (f *forwarder) emit(p []byte, chunked bool) error {
	err := f.down.body(p, chunked)
	if err == nil {
		f.res.BytesOut += int64(len(p))
	}
	return err
}

// appendRequestLine appends the upstream request line and Host: the Decision's path
// and host when it rewrites them, else the client's (uri, host), else the target's
// address for a request without a host.
func appendRequestLine(b []byte, method, uri, host string, d *Decision, t *balancer.Target) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	if d.Path != "" {
		b = append(b, d.Path...)
		if d.RawQuery != "" {
			b = append(b, '?')
			b = append(b, d.RawQuery...)
		}
	} else {
		b = append(b, uri...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	switch {
	case d.Host != "":
		b = append(b, d.Host...)
	case host != "":
		b = append(b, host...)
	default:
		b = append(b, t.Addr...)
	}
	return append(b, crlf...)
}

// hop is what an upstream request head says about the client and this hop, after the
// client's own fields.
type hop struct {
	ip         netip.Addr // the client's address
	host       string     // the client's Host, "" if none
	proto      string     // Options.ForwardedProto
	hasProto   bool       // a trusted client's X-Forwarded-Proto was kept
	hasFwdHost bool       // a trusted client's X-Forwarded-Host was kept
	via        string     // the whole Via line
	length     int64      // request body length, -1: chunked
	sendLength bool       // send Content-Length (length >= 0)
}

// appendHop ends the upstream request head. The caller has written the client's fields
// and "X-Forwarded-For: " with a trusted client's list; this appends the client's
// address to it, X-Forwarded-Proto and -Host unless kept, this hop's Forwarded element
// (RFC 7239; a trusted client's elements were kept, and several Forwarded lines read as
// one list), Via, the Decision's additions and the framing the engine chose.
func appendHop(b []byte, h *hop, d *Decision) []byte {
	b = h.ip.AppendTo(b)
	b = append(b, crlf...)
	if !h.hasProto {
		b = append(b, "X-Forwarded-Proto: "...)
		b = append(b, h.proto...)
		b = append(b, crlf...)
	}
	if !h.hasFwdHost && h.host != "" {
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, h.host...)
		b = append(b, crlf...)
	}
	b = append(b, "Forwarded: for="...)
	if ip := h.ip; ip.Is6() && !ip.Is4In6() {
		b = append(b, `"[`...)
		b = ip.WithZone("").AppendTo(b)
		b = append(b, `]"`...)
	} else {
		b = ip.Unmap().AppendTo(b)
	}
	if h.host != "" {
		b = append(b, `;host="`...)
		b = append(b, h.host...) // host.Valid admitted no quote or backslash
		b = append(b, '"')
	}
	b = append(b, ";proto="...)
	b = append(b, h.proto...)
	b = append(b, crlf...)
	b = append(b, h.via...)
	b = appendFields(b, &d.Header)
	switch {
	case h.length < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case h.sendLength:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, h.length, 10)
		b = append(b, crlf...)
	}
	return append(b, crlf...)
}

func appendStatusLineBytes(b []byte, status int, reason []byte) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, crlf...)
}

// appendResponseFields copies the upstream's fields minus hop-by-hop ones and those it
// named in Connection; Content-Length is left out when the engine writes its own
// framing. Trailer is kept when the body goes out chunked, since trailers follow.
func appendResponseFields(b []byte, p *response, reframe, outChunked bool) []byte {
	for i := range p.fields {
		f := &p.fields[i]
		if isHopByHop(f.name) && !(outChunked && equalFold(f.name, "trailer")) {
			continue
		}
		if reframe && len(f.name) == 14 && equalFold(f.name, "content-length") {
			continue
		}
		if p.nconn > 0 && p.listedInConnection(f.name) {
			continue
		}
		b = append(b, f.name...)
		b = append(b, ": "...)
		b = append(b, f.value...)
		b = append(b, crlf...)
	}
	return b
}

// validDecision checks what the Handler asks the engine to put on the wire, so a
// rewrite or a policy cannot inject CR/LF into the upstream request or the response.
func validDecision(d *Decision) bool {
	if d.Path != "" {
		if d.Path[0] != '/' {
			return false
		}
		for i := 0; i < len(d.Path); i++ {
			if c := d.Path[i]; c < 0x21 || c > 0x7e || c == '#' || c == '?' {
				return false
			}
		}
		for i := 0; i < len(d.RawQuery); i++ {
			if c := d.RawQuery[i]; c < 0x21 || c > 0x7e || c == '#' {
				return false
			}
		}
	}
	if d.Host != "" {
		for i := 0; i < len(d.Host); i++ {
			if c := d.Host[i]; c <= 0x20 || c >= 0x7f || c == '/' || c == '@' {
				return false
			}
		}
	}
	return validAdded(&d.Header) && validAdded(&d.RespHeader)
}

func validAdded(h *Header) bool {
	for i := 0; i+1 < len(h.kv); i += 2 {
		if !validTokenString(h.kv[i]) || !validValueString(h.kv[i+1]) {
			return false
		}
	}
	return true
}

// reset drops what the forwarder refers to, keeping the capacity of its buffers, for a
// pooled owner. The owner returns uw's buffer.
func (f *forwarder) reset() {
	resp, ucr := f.resp, f.ucr
	resp.reset()
	ucr.reset(nil)
	*f = forwarder{resp: resp, ucr: ucr}
}
