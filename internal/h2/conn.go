package h2

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gantrygw/gantry/internal/rawio"
)

// Write-buffer bounds. A handler appending DATA waits (or writes) once the buffer holds
// softWriteLimit bytes; frames the read loop must send (SETTINGS and PING ACKs,
// WINDOW_UPDATE, RST_STREAM) are never delayed, but a peer that makes them pile up
// beyond hardWriteLimit while not reading is cut off (SETTINGS/PING floods).
const (
	softWriteLimit = 64 << 10
	hardWriteLimit = 1 << 20
	readBufSize    = 16 << 10
	// maxWindow is the largest flow-control window (RFC 9113 section 6.9.1).
	maxWindow = 1<<31 - 1
	// lingerTime bounds how long a closing connection drains the peer's input, so
	// our GOAWAY is read before the kernel answers unread input with a reset.
	lingerTime = time.Second
)

// conn is one HTTP/2 connection.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	ctx    context.Context
	cancel context.CancelFunc

	// Read loop only.
	br          *bufio.Reader
	lr          budgetReader
	fr          *http2.Framer
	hb          headerBlock
	sawSettings bool
	pendingOut  bool // the read loop appended frames not yet written
	abuseStart  time.Time
	abuseCount  int
	canon       map[string]string // request field names: wire → canonical
	idleTimer   *time.Timer

	mu          sync.Mutex
	cond        sync.Cond // send side: window opened, buffer drained, stream or conn ended
	streams     map[uint32]*stream
	handlers    int    // handlers running (a reset stream's handler may still run)
	maxStreamID uint32 // highest client stream ID seen
	started     uint64 // streams started, for the idle check
	idleSeen    uint64
	wbuf, spare []byte
	wfr         *http2.Framer
	henc        *hpack.Encoder
	hbuf        bytes.Buffer
	lower       map[string]string // response field names: canonical → wire
	writing     bool
	wdl         time.Time // when the write deadline was last pushed
	closed      bool
	goAway      bool
	// lingering: the write side is shut (lingerLocked); output is dropped.
	lingering bool
	// prefaceSent: the server's SETTINGS went out (prefaceLocked).
	prefaceSent bool
	sendWindow  int64 // connection send window
	peerInit    int64 // peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame   int   // peer's SETTINGS_MAX_FRAME_SIZE
	recvWindow  int64 // credit the peer has on the connection
	recvPending int64 // consumed body bytes not yet returned by WINDOW_UPDATE
}

// connWriter is the write Framer's destination: the connection's write buffer. It is
// only called with c.mu held.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	w.c.wbuf = append(w.c.wbuf, p...)
	return len(p), nil
}

// budgetReader caps the bytes one frame, or one header block with its CONTINUATION
// frames (headerBlock.read), may consume. Empty CONTINUATION frames do not count
// against MaxHeaderListSize, so this budget is what bounds their number
// (CVE-2023-45288).
type budgetReader struct {
	r    *bufio.Reader
	left int
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errHeaderBlockTooLong
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s: s,
		// Socket reads and writes skip the runtime's system-call bookkeeping
		// (internal/rawio); ConnContext still sees the conn as it was handed over.
		nc:         rawio.Wrap(nc),
		streams:    map[uint32]*stream{},
		sendWindow: 65535,
		peerInit:   65535,
		peerFrame:  16 << 10,
		recvWindow: int64(s.o.ConnWindow),
		canon:      map[string]string{},
		lower:      map[string]string{},
	}
	if a := nc.RemoteAddr(); a != nil {
		c.remote = a.String()
	}
	c.cond.L = &c.mu
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, nc.LocalAddr())
	if s.o.ConnContext != nil {
		ctx = s.o.ConnContext(ctx, nc)
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.br = bufio.NewReaderSize(nc, readBufSize)
	c.lr.r = c.br
	c.mu.Lock() // idleCheck reads idleTimer under the lock
	c.idleTimer = time.AfterFunc(s.o.IdleTimeout, c.idleCheck)
	c.mu.Unlock()
	c.fr = http2.NewFramer(nil, &c.lr)
	c.fr.SetMaxReadFrameSize(s.o.MaxReadFrameSize)
	c.fr.MaxHeaderListSize = s.o.MaxHeaderListSize
	c.hb.init() // header blocks are decoded here, not by the Framer (headers.go)
	c.fr.SetReuseFrames()
	c.wfr = http2.NewFramer(connWriter{c}, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	return c
}

// prefaceLocked queues the server's connection preface (its SETTINGS, then the
// connection window) unless it already went out. RFC 9113 section 3.4 wants it
// before any other frame, including a GOAWAY that Shutdown sends while the client's
// preface is still being read: a client receiving GOAWAY first fails the connection
// with PROTOCOL_ERROR instead of retrying its requests elsewhere.
func (c *conn) prefaceLocked() {
	if c.prefaceSent {
		return
	}
	c.prefaceSent = true
	o := &c.s.o
	_ = c.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: o.MaxConcurrentStreams},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(o.StreamWindow)},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: o.MaxReadFrameSize},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: o.MaxHeaderListSize},
	)
	if d := o.ConnWindow - 65535; d > 0 {
		_ = c.wfr.WriteWindowUpdate(0, uint32(d))
	}
}

// refuse ends a connection handed over during shutdown.
func (c *conn) refuse() {
	c.mu.Lock()
	c.prefaceLocked()
	_ = c.wfr.WriteGoAway(0, http2.ErrCodeNo, nil)
	c.flushLocked()
	c.mu.Unlock()
	c.closeNow()
}

// serve runs the read loop until the connection ends.
func (c *conn) serve() {
	defer c.closeNow()
	o := &c.s.o
	_ = c.nc.SetReadDeadline(time.Now().Add(o.ReadHeaderTimeout))
	var pre [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, pre[:]); err != nil || string(pre[:]) != http2.ClientPreface {
		c.s.o.Logger.Debug("h2: bad connection preface", "remote", c.remote, "cause", err)
		c.connError(http2.ErrCodeProtocol)
		return
	}
	c.mu.Lock()
	c.prefaceLocked()
	c.flushLocked()
	c.mu.Unlock()

	// A header block may span CONTINUATION frames up to this many bytes in all.
	budget := 9 + int(o.MaxReadFrameSize) + 2*int(o.MaxHeaderListSize) + 64<<10
	for {
		if c.pendingOut && c.br.Buffered() == 0 {
			// Nothing more to read right now: answers queued by this batch of frames go
			// out before the loop blocks.
			c.pendingOut = false
			c.mu.Lock()
			c.flushLocked()
			c.mu.Unlock()
		}
		c.lr.left = budget
		f, err := c.fr.ReadFrame()
		if err != nil {
			if !c.readError(err) {
				return
			}
			continue
		}
		if !c.sawSettings {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				c.connError(http2.ErrCodeProtocol) // RFC 9113 section 3.4
				return
			}
			c.sawSettings = true
			// The preface's deadline ends here, unless a GOAWAY came first (Shutdown
			// before the client's SETTINGS arrived): its linger deadline must stay, or
			// the connection would outlive the Shutdown that is waiting for it.
			c.mu.Lock()
			if !c.goAway {
				_ = c.nc.SetReadDeadline(time.Time{})
			}
			c.mu.Unlock()
		}
		if hf, ok := f.(*http2.HeadersFrame); ok {
			if f, err = c.hb.read(c.fr, hf, c.s.o.MaxHeaderListSize); err != nil {
				if !c.readError(err) {
					return
				}
				continue
			}
		}
		if err := c.processFrame(f); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				c.connError(http2.ErrCode(ce))
			}
			return
		}
	}
}

// readError handles a ReadFrame error and reports whether the loop goes on.
func (c *conn) readError(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.mu.Lock()
		if se.StreamID%2 == 1 && se.StreamID > c.maxStreamID {
			c.maxStreamID = se.StreamID // a refused header block still uses its ID
		}
		if st := c.streams[se.StreamID]; st != nil {
			c.resetLocked(st, se.Code, true)
		} else {
			c.rstLocked(se.StreamID, se.Code)
		}
		c.mu.Unlock()
		c.pendingOut = true
		return true
	case errors.As(err, &ce):
		c.connError(http2.ErrCode(ce))
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.connError(http2.ErrCodeFrameSize)
	case errors.Is(err, errHeaderBlockTooLong):
		c.connError(http2.ErrCodeEnhanceYourCalm)
	default:
		// EOF, reset, deadline or closed by us: nothing useful can be sent.
		c.s.o.Logger.Debug("h2: read", "remote", c.remote, "cause", err)
	}
	return false
}

func (c *conn) processFrame(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		return c.onHeaders(f)
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return c.control(func() error { return c.wfr.WritePing(true, f.Data) })
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID { // RFC 9113 section 5.3.1
			return c.control(func() error { return c.wfr.WriteRSTStream(f.StreamID, http2.ErrCodeProtocol) })
		}
		return nil // priorities are advisory and ignored (RFC 9113 section 5.3.2)
	case *http2.GoAwayFrame:
		return nil // the client opens no more streams; the ones open finish
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // RFC 9113 section 8.4
	case *http2.ContinuationFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // a block's are read with its HEADERS
	}
	return nil // unknown frame types are ignored (RFC 9113 section 5.5)
}

// control appends a frame the read loop owes the peer.
func (c *conn) control(write func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := write(); err != nil {
		return http2.ConnectionError(http2.ErrCodeInternal)
	}
	c.pendingOut = true
	if len(c.wbuf) > hardWriteLimit {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

// abuse counts a sign of a misbehaving peer (a stream reset before its response, a
// stream beyond the concurrency limit); too many in a second end the connection
// (rapid reset, CVE-2023-44487).
func (c *conn) abuse() error {
	now := time.Now()
	if now.Sub(c.abuseStart) > time.Second {
		c.abuseStart, c.abuseCount = now, 0
	}
	c.abuseCount++
	if c.abuseCount > max(100, 2*int(c.s.o.MaxConcurrentStreams)) {
		c.s.o.Logger.Debug("h2: too many reset or refused streams", "remote", c.remote)
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSize(s.Val)
		case http2.SettingInitialWindowSize:
			// RFC 9113 section 6.9.2: the change applies to every open stream's window.
			d := int64(s.Val) - c.peerInit
			c.peerInit = int64(s.Val)
			for _, st := range c.streams {
				st.sendWindow += d
				if st.sendWindow > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.cond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.peerFrame = int(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.wfr.WriteSettingsAck(); err != nil {
		return http2.ConnectionError(http2.ErrCodeInternal)
	}
	c.pendingOut = true
	if len(c.wbuf) > hardWriteLimit {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

// idleStream reports whether id names a stream the client has not opened.
func (c *conn) idleStreamLocked(id uint32) bool {
	return id%2 == 0 || id > c.maxStreamID
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.cond.Broadcast()
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if c.idleStreamLocked(f.StreamID) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil // closed: allowed for a short while (RFC 9113 section 5.1)
	}
	st.sendWindow += inc
	if st.sendWindow > maxWindow {
		c.resetLocked(st, http2.ErrCodeFlowControl, true)
		c.pendingOut = true
		return nil
	}
	c.cond.Broadcast()
	return nil
}

func (c *conn) onReset(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	st := c.streams[f.StreamID]
	if st == nil {
		idle := c.idleStreamLocked(f.StreamID)
		c.mu.Unlock()
		if idle {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	early := !st.responded
	c.resetLocked(st, f.ErrCode, false)
	c.mu.Unlock()
	if early {
		return c.abuse()
	}
	return nil
}

func (c *conn) onData(f *http2.DataFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, n := f.StreamID, int64(f.Length)
	if n > c.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= n
	st := c.streams[id]
	if st == nil || st.remoteClosed {
		if st == nil && c.idleStreamLocked(id) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		c.creditConnLocked(n)
		if st != nil {
			c.resetLocked(st, http2.ErrCodeStreamClosed, true)
		} else {
			c.rstLocked(id, http2.ErrCodeStreamClosed)
		}
		c.pendingOut = true
		return nil
	}
	if n > st.recvWindow {
		c.creditConnLocked(n)
		c.resetLocked(st, http2.ErrCodeFlowControl, true)
		c.pendingOut = true
		return nil
	}
	st.recvWindow -= n
	data := f.Data()
	if pad := n - int64(len(data)); pad > 0 {
		c.creditConnLocked(pad) // padding is never read; its credit returns at once
		st.recvPending += pad
	}
	st.bodyRead += int64(len(data))
	if st.declLen >= 0 && st.bodyRead > st.declLen {
		c.creditConnLocked(int64(len(data)))
		c.resetLocked(st, http2.ErrCodeProtocol, true) // RFC 9113 section 8.1.1
		c.pendingOut = true
		return nil
	}
	if st.bodyClosed {
		c.creditConnLocked(int64(len(data)))
	} else if len(data) > 0 {
		if st.roff > 0 && st.roff >= len(st.rbuf)/2 {
			k := copy(st.rbuf, st.rbuf[st.roff:])
			st.rbuf, st.roff = st.rbuf[:k], 0
		}
		st.rbuf = append(st.rbuf, data...)
		st.rcond.Signal()
	}
	if f.StreamEnded() {
		if st.declLen >= 0 && st.bodyRead != st.declLen {
			c.resetLocked(st, http2.ErrCodeProtocol, true)
			c.pendingOut = true
			return nil
		}
		c.endBodyLocked(st)
	}
	if c.pendingFrames() {
		c.pendingOut = true
	}
	return nil
}

// pendingFrames reports whether the write buffer holds frames.
func (c *conn) pendingFrames() bool { return len(c.wbuf) > 0 }

// endBodyLocked marks the request complete (END_STREAM from the client).
func (c *conn) endBodyLocked(st *stream) {
	st.remoteClosed = true
	if st.rerr == nil {
		st.rerr = io.EOF
	}
	st.rcond.Broadcast()
	if st.localClosed {
		c.removeLocked(st)
	}
}

// creditConnLocked returns n bytes of connection receive window once enough has
// accumulated (half the window), so WINDOW_UPDATE frames stay rare.
func (c *conn) creditConnLocked(n int64) {
	c.recvPending += n
	if c.recvPending >= int64(c.s.o.ConnWindow)/2 {
		_ = c.wfr.WriteWindowUpdate(0, uint32(c.recvPending))
		c.recvWindow += c.recvPending
		c.recvPending = 0
	}
}

// creditStreamLocked does the same for a stream the client still sends on.
func (c *conn) creditStreamLocked(st *stream, n int64) {
	st.recvPending += n
	if !st.remoteClosed && st.recvPending >= int64(c.s.o.StreamWindow)/2 {
		_ = c.wfr.WriteWindowUpdate(st.id, uint32(st.recvPending))
		st.recvWindow += st.recvPending
		st.recvPending = 0
	}
}

// rstLocked queues RST_STREAM for a stream that has no state here.
func (c *conn) rstLocked(id uint32, code http2.ErrCode) {
	_ = c.wfr.WriteRSTStream(id, code)
}

// resetLocked ends st: its handler sees ErrStreamReset and a cancelled context. send
// queues RST_STREAM with code.
func (c *conn) resetLocked(st *stream, code http2.ErrCode, send bool) {
	if st.reset {
		return
	}
	st.reset = true
	if send {
		_ = c.wfr.WriteRSTStream(st.id, code)
	}
	if st.rerr == nil || st.rerr == io.EOF && len(st.rbuf) > st.roff {
		st.rerr = ErrStreamReset
	}
	if unread := int64(len(st.rbuf) - st.roff); unread > 0 {
		c.creditConnLocked(unread)
	}
	st.rbuf, st.roff = nil, 0
	st.rcond.Broadcast()
	c.cond.Broadcast()
	st.cancel()
	c.removeLocked(st)
}

// removeLocked forgets a closed stream; its ID is then "closed" for the peer's frames.
func (c *conn) removeLocked(st *stream) {
	if c.streams[st.id] == st {
		delete(c.streams, st.id)
	}
	c.closeIfDoneLocked()
}

// doneLocked reports a connection that sent GOAWAY, has no stream or handler left,
// and has not begun to linger.
func (c *conn) doneLocked() bool {
	return c.goAway && !c.closed && !c.lingering && len(c.streams) == 0 && c.handlers == 0
}

// closeIfDoneLocked ends a connection that sent GOAWAY once its last stream finished:
// flushLocked writes what is queued and then lingers (see there).
func (c *conn) closeIfDoneLocked() {
	if c.doneLocked() {
		c.flushLocked()
	}
}

// lingerLocked half-closes the connection and lets the read loop drain the peer's
// input for a short while before it closes.
func (c *conn) lingerLocked() {
	// Nothing is written from here on: the peer has all it will get, and a write
	// after the half-close would fail and close the socket at once, with the peer's
	// unread frames (WINDOW_UPDATEs for what we sent) still queued, so the kernel
	// would answer with a reset that can discard responses the peer has not read.
	c.lingering = true
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
		return
	}
	c.closeLocked()
}

// flushLocked writes the write buffer unless another goroutine is writing (which then
// writes what was appended meanwhile too). The lock is released during the write, so
// other streams keep appending: their frames share the next write.
func (c *conn) flushLocked() {
	if c.lingering {
		c.wbuf = c.wbuf[:0] // see lingerLocked
		c.cond.Broadcast()
		return
	}
	if c.writing {
		return
	}
	c.writing = true
	if c.handlers > 1 && len(c.wbuf) < softWriteLimit {
		// Other streams of this connection are running: let the runnable ones append
		// their frames first, so one write carries them all. Measured on h2 small
		// (16 conns x 8 streams): 0.528 -> 0.645 of nginx's efficiency in one run, and
		// the load generator's CPU per request fell from 20 to 11 us (fewer, larger
		// reads).
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
	}
	for len(c.wbuf) > 0 && !c.closed {
		buf := c.wbuf
		c.wbuf, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		now := time.Now()
		if now.Sub(c.wdl) > c.s.o.WriteTimeout/2 { // pushed lazily: a write may stall for WriteTimeout/2..WriteTimeout
			_ = c.nc.SetWriteDeadline(now.Add(c.s.o.WriteTimeout))
			c.wdl = now
		}
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		if cap(buf) <= 4*softWriteLimit {
			c.spare = buf[:0]
		}
		if err != nil {
			c.s.o.Logger.Debug("h2: write", "remote", c.remote, "cause", err)
			c.closeLocked()
		}
	}
	c.writing = false
	c.cond.Broadcast()
	// A connection that is done half-closes here, after its last bytes went out. When
	// another goroutine's write is in progress this call returns at once above and
	// that writer lingers instead: half-closing under its write would fail it and
	// lose the last responses.
	if c.doneLocked() {
		c.lingerLocked()
	}
}

// closeLocked ends the connection at once: every stream is reset, the socket closed.
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	for _, st := range c.streams {
		c.resetLocked(st, http2.ErrCodeCancel, false)
	}
	c.wbuf = nil
	c.cond.Broadcast()
	_ = c.nc.Close()
	c.cancel()
}

func (c *conn) closeNow() {
	c.mu.Lock()
	c.closeLocked()
	c.idleTimer.Stop()
	c.mu.Unlock()
}

// connError sends GOAWAY with code and ends the connection (RFC 9113 section 5.4.1).
func (c *conn) connError(code http2.ErrCode) {
	c.mu.Lock()
	if !c.closed {
		c.goAway = true
		c.prefaceLocked()
		_ = c.wfr.WriteGoAway(c.maxStreamID, code, nil)
		c.flushLocked()
		// A handler's goroutine may be writing with the lock released (flushLocked
		// then returns at once): its loop writes the GOAWAY too. Wait for that before
		// the half-close below, or the GOAWAY would fail with the write it joins.
		for c.writing && !c.closed {
			c.cond.Wait()
		}
		c.lingering = true // handlers still running write nothing more (see lingerLocked)
	}
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	c.s.o.Logger.Debug("h2: connection error", "remote", c.remote, "code", code)
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, c.nc, 256<<10)
	}
	c.closeNow()
}

// goAwayGraceful announces shutdown: streams up to the last one seen finish, later
// ones are ignored; the connection closes when none are left.
func (c *conn) goAwayGraceful() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.goAway {
		return
	}
	c.goAway = true
	c.prefaceLocked()
	_ = c.wfr.WriteGoAway(c.maxStreamID, http2.ErrCodeNo, nil)
	c.flushLocked()
	c.closeIfDoneLocked()
}

// idleCheck runs every IdleTimeout: a connection that had no stream for a whole
// period is closed with GOAWAY.
func (c *conn) idleCheck() {
	c.mu.Lock()
	idle := !c.closed && len(c.streams) == 0 && c.handlers == 0 && c.started == c.idleSeen
	c.idleSeen = c.started
	if !idle && !c.closed {
		c.idleTimer.Reset(c.s.o.IdleTimeout)
	}
	c.mu.Unlock()
	if idle {
		c.goAwayGraceful()
	}
}
