//go:build linux

package h1

import (
	"os"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/netpoll"
	"github.com/gantrygw/gantry/internal/problem"
	"github.com/gantrygw/gantry/internal/rawio"
	"golang.org/x/sys/unix"
)

// The readiness loop: keep-alive HTTP/1.1 exchanges run in internal/netpoll callbacks
// instead of on the connection's goroutine (issue 6; the design is in doc.go and
// docs/h1-engine.md, "Readiness loop").
//
// Why: a goroutine per connection parks and wakes twice per request (waiting for the
// upstream's answer, then for the client's next request), and each wait first tries
// the read that returns EAGAIN. A readiness callback reads only when the kernel said
// there are bytes, and one poller goroutine serves many ready connections per wake-up.
//
// Ownership. A client connection in the loop is in one of three session states:
// stateParked (idle, its registration waits for readiness; a closer may take it, as
// for a parked connection), stateLoop (whoever moved it there runs its exchange: a
// poller goroutine, the upstream's poller, the timeout timer or the goroutine that
// entered the loop) and stateLoopPending (as stateLoop, and the client's socket became
// readable meanwhile: the owner reads again before it lets go). The exchange's
// upstream connection has its own word (upNone, upBusy, upWaiting, upPending) with the
// same rules: only the side that moves it out of upWaiting continues the exchange.
// Nothing is ever touched by two goroutines at once, and every hand-off is an atomic
// compare-and-swap, so the owner's earlier writes are visible to the next owner.
//
// What the loop takes: a request whose whole head arrived in one read, with no body,
// nothing pipelined behind it, no Upgrade or Expect, that Route forwards; an idle
// pooled upstream connection for the picked target; a response head and
// Content-Length body (or none) that fit the upstream read buffer; a client socket
// that takes the whole response in one sendmsg. Everything else goes to the
// goroutine code (conn.next, dispatch, forwarder.run, finish) at one of four points
// (handover below), with what the loop read or wrote so far, and the connection
// comes back to the loop at its next idle moment. The parser, Route, the Decision
// checks and the head writers are the same code on both paths.

// Connection states of a session in the loop (see stateIdle and the park states).
const (
	stateLoop        int32 = iota + stateWoken + 1 // an exchange is run by the loop
	stateLoopPending                               // ...and the client became readable
)

// Upstream connection states for the loop.
const (
	upNone    int32 = iota // not in a loop exchange: readiness is ignored
	upBusy                 // the exchange's owner is sending or reading
	upWaiting              // sent; waiting for readiness or the timeout
	upPending              // readiness came while upBusy: read again
)

// Handover points: where the goroutine code takes an exchange over from the loop.
const (
	hoBoundary = iota // a request boundary: nothing routed (the bytes read stay buffered)
	hoRouted          // Route ran; nothing sent upstream (f.first may hold the target)
	hoSent            // the request head went (partly) to f.sent; the answer is awaited
	hoFinish          // the response is written (or c.lp.rest holds its unsent bytes)
)

// hoNames name the handover points for Server.trace.
var hoNames = [...]string{"handover:boundary", "handover:routed", "handover:sent", "handover:finish"}

// loopState is a conn's part in the loop.
type loopState struct {
	// io is the client socket's raw side; its TryRead and TrySend never wait (the loop
	// waits for readiness itself) and run under the descriptor's own lock, so a Close
	// elsewhere can never leave a call on a descriptor number reused meanwhile.
	io    *rawio.Conn
	u     *upConn   // the upstream connection the exchange uses
	start time.Time // when the try began
	// wait is the upstream connection the exchange waits on (for the timer); dl is
	// when that wait times out and armed when the timer fires (unix ns, 0: not armed).
	wait  atomic.Pointer[upConn]
	dl    atomic.Int64
	armed atomic.Int64
	timer *time.Timer
	// hup: the readiness that started this exchange said the peer's side is closed.
	hup  bool
	rest []byte // response bytes the client socket did not take (hoFinish)
	// cur is the poller whose goroutine runs the exchange now (set where a Ready
	// enters it), nil where another goroutine does (the one that entered the loop, the
	// timer's): on a poller, the upstream request waits for the end of the batch.
	cur *netpoll.Poller
}

// sendUp is the deferred send of the request head upstream (loopForward). As a
// netpoll.Sender the poller sends it with the batch's other requests in one system
// call; the exchange owns u (upBusy), so nothing closes its descriptor meanwhile.
type sendUp conn

func (x *sendUp) SendArgs() (int, []byte) {
	c := (*conn)(x)
	return c.lp.u.lp.reg.FD(), c.f.uw.buf
}

func (x *sendUp) Sent(n int, err error) {
	c := (*conn)(x)
	if c.s.trace != nil {
		c.s.trace("batched")
	}
	if err == netpoll.ErrSendUnknown {
		// The request may have gone: the connection must not carry another one. Closed,
		// the goroutine's write fails and the try ends as on a reset connection.
		c.lp.u.close()
	}
	c.loopSent(n, err)
}

// upLoop is an upstream connection's part in the loop: its registration (every
// connection the pool dials is registered, readiness is ignored while no loop
// exchange waits on it), its state and the exchange's client connection.
type upLoop struct {
	reg   *netpoll.Registration
	io    *rawio.Conn // as loopState.io
	state atomic.Int32
	owner *conn
}

// loopSupported reports whether Servers run keep-alive exchanges in the loop: on
// Linux unless GANTRY_H1_LOOP=off (kept for A/B runs). The pollers start with the
// first connection that enters the loop; where they cannot, connections stay on
// their goroutines (session.poller).
func loopSupported() bool { return os.Getenv("GANTRY_H1_LOOP") != "off" }

// loopSession is a session as the handler of its client registration in the loop.
type loopSession session

// Ready: the client's socket is readable (a request, or its end).
func (h *loopSession) Ready(ev netpoll.Events) {
	cl := (*session)(h)
	for {
		switch st := cl.state.Load(); st {
		case stateParked:
			if cl.state.CompareAndSwap(stateParked, stateLoop) {
				c := cl.lc
				// The peer's end came with (or right after) a request: read again after
				// the exchange instead of idling, so the end is not left unseen.
				c.lp.hup = ev&netpoll.Hangup != 0
				c.lp.cur = cl.reg.Poller()
				c.loopRead()
				return
			}
		case stateLoop:
			if cl.state.CompareAndSwap(stateLoop, stateLoopPending) {
				return
			}
		default:
			return // pending already, closed, or handed to a goroutine
		}
	}
}

// enterLoop hands a keep-alive connection that waits for its next request (nothing
// buffered, state stateIdle) to the loop; false if it cannot be (the goroutine keeps
// it), or was closed meanwhile (then its state says so).
func (c *conn) enterLoop() bool {
	cl, s := c.cl, c.s
	g, ok := cl.poller()
	if !ok {
		return false
	}
	io, ok := cl.nc.(*rawio.Conn) // newSession wrapped every socket
	if !ok {
		return false
	}
	// Owned from here: Shutdown's closeIfIdle leaves a connection in stateLoop alone and
	// forceClose only marks it, so the descriptor cannot be closed under the Add.
	if !cl.state.CompareAndSwap(stateIdle, stateLoop) {
		return false
	}
	// The loop sets no deadlines; one the goroutine set must not fail its calls later.
	if !c.dl.rd.IsZero() || !c.dl.wd.IsZero() {
		_ = c.c.SetDeadline(time.Time{})
		c.dl.rd, c.dl.wd = time.Time{}, time.Time{}
	}
	reg, err := g.Pick().Add(cl.fd, netpoll.Readable, false, (*loopSession)(cl))
	if err != nil {
		s.o.Logger.Debug("h1: cannot enter the loop", "cause", err, "remote", c.remote)
		cl.fd = fdNone
		// Back to the goroutine; if Shutdown marked it closed meanwhile, the caller sees
		// that and ends it.
		if !cl.state.CompareAndSwap(stateLoop, stateIdle) {
			cl.state.CompareAndSwap(stateLoopPending, stateIdle)
		}
		return false
	}
	c.lp.io, c.lp.cur = io, nil
	cl.reg, cl.lc = reg, c
	s.startSweeper()
	c.loopRead()
	return true
}

// loopRead reads and serves the connection's next request while it owns it
// (stateLoop), until the connection is idle in the loop, waits for an upstream, went
// to a goroutine or closed.
func (c *conn) loopRead() {
	b := &c.br
	for {
		n, err := c.lp.io.TryRead(b.buf[b.w:])
		if n > 0 {
			b.w += n
			if c.onSmall {
				c.busyReadBuf()
				if b.w == len(c.small) {
					continue // a longer head: read on into the pooled buffer
				}
			}
			c.loopRequest()
			return
		}
		if err == unix.EAGAIN {
			if b.w > 0 {
				c.loopRequest() // what there is (a head that is not whole goes to a goroutine)
				return
			}
			if c.loopIdle() {
				return
			}
			continue
		}
		c.loopClose() // the client's end of stream (io.EOF), or an error: no request is pending
		return
	}
}

// loopIdle lets go of an idle connection (stateLoop to stateParked); false when the
// socket became readable meanwhile (the caller reads again). A connection Shutdown
// marked closed is closed here.
func (c *conn) loopIdle() bool {
	cl := c.cl
	if c.rbp != nil && c.br.w == 0 {
		c.putWriteBufs()
		c.idleReadBuf()
	}
	cl.expiry.Store(time.Now().Add(c.s.o.IdleTimeout - c.s.sweepEvery).UnixNano())
	if cl.state.CompareAndSwap(stateLoop, stateParked) {
		return true
	}
	if cl.state.CompareAndSwap(stateLoopPending, stateLoop) {
		return false
	}
	c.loopClose()
	return true
}

// loopRequest serves the request whose first bytes were just read.
func (c *conn) loopRequest() {
	s, b, req := c.s, &c.br, &c.req
	b.lo, b.fl = 0, nil
	req.reset()
	c.hs = headState{}
	end, status, _ := parseRequestHead(req, b.buf[:b.w], &c.hs, &s.lim)
	if status != 0 || end == 0 || end != b.w || req.contentLength != 0 || req.expect100 ||
		req.upgrade || req.h2Preface || req.fallback {
		c.handover(hoBoundary) // the goroutine parses it again and takes it from there
		return
	}
	b.r = end
	if !c.begin() {
		return // cannot happen for the requests taken above; begin ended the connection
	}
	s.o.Handler.Route(req, &c.d)
	if c.d.Kind != Forward {
		c.handover(hoRouted)
		return
	}
	c.loopForward()
}

// loopForward starts the forward of a routed request: check, pick, take an idle
// upstream connection, send the head and wait.
func (c *conn) loopForward() {
	s, f, d, res := c.s, &c.f, &c.d, &c.res
	if !f.check(true, 0) {
		c.handover(hoFinish) // the problem is batched
		return
	}
	f.method, f.body, f.replay = c.req.method, nil, true
	d.Info.Tried = f.tried[:0]
	t, err := d.Picker.Pick(&d.Info)
	if err != nil || t == nil {
		if err == nil {
			err = balancer.ErrNoTarget
		}
		f.down.problem(problem.NoTarget, err)
		c.handover(hoFinish)
		return
	}
	d.Info.Tried = append(d.Info.Tried, t)
	res.Tries++
	res.Target = t
	now := time.Now()
	u := s.pool.get(t.Addr, now, c.lp.cur)
	if u == nil || u.lp.reg == nil {
		if u != nil {
			s.pool.put(u, u.idleAt)
		}
		f.first = t // the goroutine dials
		c.handover(hoRouted)
		return
	}
	if t.State != nil {
		t.State.Begin()
	}
	res.Upstream = 0
	u.clearDeadlines()
	f.uw.c, f.uw.dl, f.uw.err = u.c, &u.dl, nil
	f.uw.buf = c.appendRequestHead(f.uw.buf[:0], t)
	rht := d.ResponseHeaderTimeout
	if rht <= 0 {
		rht = s.o.StallTimeout
	}
	lp := &c.lp
	lp.u, lp.start = u, now
	u.lp.owner = c
	u.lp.state.Store(upBusy)
	c.armWait(u, now, rht)
	if lp.cur != nil {
		// Sent with the batch's other requests: a backend that sleeps is woken once
		// for all of them rather than once per request (docs/performance.md). Until
		// then the exchange is as if sent and waiting: the client's readiness marks it
		// pending, and the timer finds u busy and looks again later.
		lp.cur.DeferSend((*sendUp)(c))
		if s.trace != nil {
			s.trace("deferred")
		}
		return
	}
	c.loopSendUp()
}

// loopSendUp sends the request head on the exchange's upstream connection and waits
// for the answer.
func (c *conn) loopSendUp() {
	n, err := c.lp.u.lp.io.TrySend(c.f.uw.buf, nil)
	c.loopSent(n, err)
}

// loopSent continues the exchange after the send of the request head: n bytes went.
func (c *conn) loopSent(n int, err error) {
	f, u := &c.f, c.lp.u
	if err != nil || n < len(f.uw.buf) {
		// A stale pooled connection, or a full socket buffer: the goroutine writes the
		// rest (or fails, and retries on a fresh connection, as for any try).
		k := copy(f.uw.buf, f.uw.buf[n:])
		f.uw.buf = f.uw.buf[:k]
		c.handover(hoSent)
		return
	}
	f.uw.buf = f.uw.buf[:0]
	if u.lp.state.CompareAndSwap(upBusy, upWaiting) {
		return // the upstream's readiness (or the timer) continues
	}
	u.lp.state.Store(upBusy) // the answer is there already
	c.loopResponse(u)
}

// armWait publishes the wait on u, which times out rht after now, and makes sure the
// timer fires no later than that. The timer is moved only when it would fire late or
// more than rht/2 early, so a busy connection resets it about twice per rht.
func (c *conn) armWait(u *upConn, now time.Time, rht time.Duration) {
	lp := &c.lp
	dl := now.Add(rht).UnixNano()
	lp.dl.Store(dl)
	lp.wait.Store(u)
	if a := lp.armed.Load(); a == 0 || a > dl || a < dl-int64(rht/2) {
		lp.armed.Store(dl)
		if lp.timer == nil {
			lp.timer = time.AfterFunc(rht, c.loopTimeout)
		} else {
			lp.timer.Reset(rht)
		}
	}
}

// loopTimeout is the timer's: the wait it was armed for may have ended, moved on
// (rearm), or timed out (hand the exchange to a goroutine, whose read of the response
// head then fails with the deadline: a 504 or a retry, as on the goroutine path).
func (c *conn) loopTimeout() {
	lp := &c.lp
	lp.armed.Store(0)
	u := lp.wait.Load()
	if u == nil {
		return
	}
	now := time.Now().UnixNano()
	if dl := lp.dl.Load(); now < dl {
		c.rearm(dl, now)
		return
	}
	if !u.lp.state.CompareAndSwap(upWaiting, upBusy) {
		// Being read (its owner checks the deadline before it waits again), or just
		// ended: look again shortly.
		c.rearm(now+int64(time.Millisecond), now)
		return
	}
	if u.lp.owner != c || lp.wait.Load() != u || time.Now().UnixNano() < lp.dl.Load() {
		// Another exchange began meanwhile: give the wait back, and time the new one.
		u.giveBack()
		if lp.wait.Load() != nil {
			c.rearm(lp.dl.Load(), time.Now().UnixNano())
		}
		return
	}
	c.handover(hoSent)
}

// rearm sets the timer to fire at at (unix ns).
func (c *conn) rearm(at, now int64) {
	c.lp.armed.Store(at)
	c.lp.timer.Reset(time.Duration(max(at-now, 0)))
}

// giveBack returns a wait the timer took (upBusy) to its exchange, or, when readiness
// came meanwhile, serves it.
func (u *upConn) giveBack() {
	if !u.lp.state.CompareAndSwap(upBusy, upWaiting) {
		u.lp.state.Store(upBusy)
		u.lp.owner.lp.cur = nil
		u.lp.owner.loopResponse(u)
	}
}

// Ready: an upstream connection is readable. Only a loop exchange waiting on it
// (upWaiting) takes it; any other readiness (a pooled connection the upstream closed,
// an exchange on a goroutine) is the goroutine code's business.
func (u *upConn) Ready(netpoll.Events) {
	for {
		switch st := u.lp.state.Load(); st {
		case upWaiting:
			if u.lp.state.CompareAndSwap(upWaiting, upBusy) {
				u.lp.owner.lp.cur = u.lp.reg.Poller()
				u.lp.owner.loopResponse(u)
				return
			}
		case upBusy:
			if u.lp.state.CompareAndSwap(upBusy, upPending) {
				return
			}
		default:
			return
		}
	}
}

// loopResponse reads the answer while the exchange owns u (upBusy).
func (c *conn) loopResponse(u *upConn) {
	if u.bp == nil {
		u.takeBuf()
	}
	b := &u.br
	for {
		if b.w == len(b.buf) {
			c.handover(hoSent)
			return
		}
		n, err := u.lp.io.TryRead(b.buf[b.w:])
		if n > 0 {
			b.w += n
			if c.loopAnswer(u) {
				return
			}
			continue
		}
		if err == unix.EAGAIN {
			if time.Now().UnixNano() >= c.lp.dl.Load() {
				c.handover(hoSent) // timed out between reads
				return
			}
			if u.lp.state.CompareAndSwap(upBusy, upWaiting) {
				return
			}
			u.lp.state.Store(upBusy)
			continue
		}
		// The upstream's end or an error: the goroutine reads it again and decides
		// (a retry on a fresh connection, or a 502).
		c.handover(hoSent)
		return
	}
}

// loopAnswer looks at what u's buffer holds; true when the exchange left (answered, or
// handed over), false to read more.
func (c *conn) loopAnswer(u *upConn) bool {
	s, f, d, res, b := c.s, &c.f, &c.d, &c.res, &u.br
	p := &f.resp
	p.reset()
	st := headState{}
	end, ok := parseResponseHead(p, b.buf[:b.w], &st, &s.lim)
	if !ok {
		c.handover(hoSent) // the goroutine parses it again and answers 502
		return true
	}
	if end == 0 {
		return false
	}
	mode := modeLength
	switch {
	case p.status < 200, p.chunked:
		c.handover(hoSent)
		return true
	case bodyless(f.method, p.status):
		mode = modeNone
	case p.contentLength < 0:
		c.handover(hoSent)
		return true
	}
	if d.Retry.Attempts > 1 && inList(p.status, d.Retry.OnStatus) && f.resendable() {
		c.handover(hoSent) // the goroutine weighs the retry
		return true
	}
	need := end
	if mode == modeLength {
		need += int(p.contentLength)
		if p.contentLength > int64(len(b.buf)) || need > len(b.buf) {
			c.handover(hoSent) // a body larger than the buffer streams on a goroutine
			return true
		}
	}
	if b.w < need {
		return false
	}

	// The whole response is here: the exchange ends as forwarder.try and relay end it.
	lp := &c.lp
	lp.wait.Store(nil)
	now := time.Now()
	res.Upstream = now.Sub(lp.start)
	u.fast = res.Upstream < fastHead
	failed := p.status >= 500
	b.r = end
	c.head(p, mode, true)
	res.Status = p.status
	body := b.buf[end:need]
	b.r = need
	res.BytesOut += int64(len(body))
	f.endTry(res.Target, lp.start, failed)
	u.lp.owner = nil
	u.lp.state.Store(upNone)
	lp.u = nil

	if s.trace != nil {
		s.trace("answered") // before the client can see the answer
	}
	n, err := c.lp.io.TrySend(c.cw.buf, body)
	if err != nil {
		u.close()
		res.Reason, res.Err = "client_aborted", err
		c.cw.err = err
		c.cw.buf = c.cw.buf[:0]
		c.handover(hoFinish)
		return true
	}
	if total := len(c.cw.buf) + len(body); n < total {
		// The client's socket is full: the rest is copied out of the buffers (the
		// upstream connection goes back to the pool) and written by a goroutine.
		rest := make([]byte, 0, total-n)
		if n < len(c.cw.buf) {
			rest = append(rest, c.cw.buf[n:]...)
			rest = append(rest, body...)
		} else {
			rest = append(rest, body[n-len(c.cw.buf):]...)
		}
		lp.rest = rest
		c.cw.buf = c.cw.buf[:0]
		s.pool.release(u, p.close)
		c.handover(hoFinish)
		return true
	}
	c.cw.buf = c.cw.buf[:0]
	s.pool.release(u, p.close)
	if c.closeAfter || s.shutting.Load() {
		c.handover(hoFinish) // the goroutine says Done and closes with a linger
		return true
	}
	s.o.Handler.Done(&c.req, d, res)
	c.loopNext()
	return true
}

// loopNext ends an exchange in the loop: the next request is read if the client sent
// one meanwhile, else the connection idles.
func (c *conn) loopNext() {
	b := &c.br
	b.r, b.w, b.lo = 0, 0, 0
	if c.lp.hup {
		c.lp.hup = false
		c.loopRead() // its end of stream closes the connection
		return
	}
	if c.loopIdle() {
		return
	}
	c.loopRead()
}

// handover passes the connection, at point at, to a new goroutine running the
// goroutine code. The loop lets go of it: its registration is removed (the goroutine
// may close the descriptor) and it comes back through enterLoop when idle again.
func (c *conn) handover(at int) {
	cl, lp := c.cl, &c.lp
	lp.wait.Store(nil)
	lp.hup = false // the goroutine reads the end itself
	if t := c.s.trace; t != nil {
		t(hoNames[at])
	}
	if at == hoSent {
		u := lp.u
		u.lp.owner = nil
		u.lp.state.Store(upNone)
		c.f.first, c.f.sent, c.f.sentAt = c.res.Target, u, lp.start
		// The response head's deadline, which the loop kept on its timer.
		u.dl.rd = time.Unix(0, lp.dl.Load())
		_ = u.c.SetReadDeadline(u.dl.rd)
		u.armed = true
	}
	lp.u = nil
	closed := false
	for {
		st := cl.state.Load()
		if st == stateClosed {
			closed = true
			break
		}
		if cl.state.CompareAndSwap(st, stateActive) {
			break
		}
	}
	_ = cl.reg.Remove()
	cl.reg, cl.lc = nil, nil
	if closed {
		_ = c.c.Close() // forceClose marked it: the goroutine's calls fail and it ends
	}
	go c.s.serveFrom(c, at)
}

// loopClose closes a connection the loop owns.
func (c *conn) loopClose() {
	cl, s := c.cl, c.s
	cl.state.Store(stateClosed)
	_ = cl.reg.Remove()
	cl.reg, cl.lc = nil, nil
	_ = c.c.Close()
	s.mu.Lock()
	delete(s.conns, cl)
	s.mu.Unlock()
	c.release()
}

// serveFrom continues a connection the loop handed over, at point at.
func (s *Server) serveFrom(c *conn, at int) {
	ok := true
	switch at {
	case hoRouted:
		if c.dispatch() {
			ok = false
			break
		}
		ok = c.finish()
	case hoSent:
		c.f.run()
		ok = c.finish()
	case hoFinish:
		if rest := c.lp.rest; len(rest) > 0 {
			c.lp.rest = nil
			_ = c.cw.write(rest)
		}
		ok = c.finish()
	}
	if !ok {
		if !c.handedOff {
			_ = c.c.Close()
		}
	} else if !c.serveRest() {
		return // back in the loop
	}
	s.done(c)
}

// clearDeadlines drops the deadlines the goroutine code left on u: the loop sets none,
// and one passing later would fail its calls.
func (u *upConn) clearDeadlines() {
	if !u.dl.rd.IsZero() || !u.dl.wd.IsZero() {
		_ = u.c.SetDeadline(time.Time{})
		u.dl.rd, u.dl.wd = time.Time{}, time.Time{}
	}
	u.armed = false
}

// loopRegister registers a newly dialled upstream connection with a poller, so loop
// exchanges can wait on it; without a descriptor it stays off the loop.
func (u *upConn) loopRegister() {
	g, err := netpoll.Shared()
	if err != nil {
		return
	}
	io, ok := u.c.(*rawio.Conn) // dial wrapped it
	if !ok {
		return
	}
	fd, err := netpoll.FDOf(u.c)
	if err != nil {
		return
	}
	reg, err := g.Pick().Add(fd, netpoll.Readable, false, u)
	if err != nil {
		return
	}
	u.lp.io, u.lp.reg = io, reg
}

// loopUnregister removes the registration before the connection closes.
func (u *upConn) loopUnregister() {
	if u.lp.reg != nil {
		_ = u.lp.reg.Remove()
		u.lp.reg = nil
	}
}
