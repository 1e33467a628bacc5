package h1

import (
	"net"
	"sync"
	"time"

	"github.com/gantrygw/gantry/internal/netpoll"
	"github.com/gantrygw/gantry/internal/rawio"
)

// upConn is one connection to an upstream target. Response heads are parsed in place
// in its read buffer: a pooled buffer, held only while an exchange needs it. An idle
// pooled connection holds none. A connection whose last response head came within
// fastHead reads the next one straight into the pooled buffer (a head and a 16 KiB body
// in one read); any other waits on a small array of its own and moves to the pooled
// buffer once bytes arrive, so slow exchanges (long polls, slow backends) do not each
// hold 32 KiB while they wait. By Little's law the pooled buffers held while waiting
// stay few: at most request rate x fastHead of them.
type upConn struct {
	c      net.Conn
	br     reader
	bp     *[]byte // pooled read buffer while bytes of a response are in flight, else nil
	addr   string
	idleAt time.Time
	dl     deadline
	reused bool // served a response before: may have been closed by the upstream
	fast   bool // its last response head came within fastHead
	small  [upSmallBuf]byte
	aw     awaiter // writes a request and waits for its answer in one poll (await_linux.go)
	// armed: the response-head read deadline is set already (flushAwait set it before
	// the wait).
	armed bool
	// lp is the connection's state in the readiness loop (loop_linux.go).
	lp upLoop
}

// fastHead is how soon a response head must follow the request for the connection's
// next exchange to wait on the pooled buffer rather than on its small array.
const fastHead = 10 * time.Millisecond

// upSmallBuf is the size of an upstream connection's own read array: a typical response
// head with a short body arrives in it whole.
const upSmallBuf = 1 << 10

// headRoom is kept free in front of the pooled read buffer. The response head the
// client gets is put there, right before the body bytes that arrived with the upstream's
// head, so both leave in one write (see copyLength). It covers what the engine adds
// to a head beyond what it drops; a larger head goes out in a write of its own.
const headRoom = 512

// takeBuf moves the reader from the small array to a pooled buffer as large as the copy
// buffer, carrying over what it holds: a 16 KiB body then takes one more read, not
// several, and is written on from where it landed.
func (u *upConn) takeBuf() {
	if u.bp != nil {
		return
	}
	b := &u.br
	u.bp = copyBufPool.Get().(*[]byte)
	big := (*u.bp)[headRoom:]
	n := copy(big, b.buf[b.lo:b.w])
	b.buf, b.r, b.w = big, b.r-b.lo, n
	b.lo = 0
}

// dropBuf returns the pooled buffer and puts the reader back on the small array; the
// caller has consumed or abandoned what it held.
func (u *upConn) dropBuf() {
	if u.bp != nil {
		copyBufPool.Put(u.bp)
		u.bp = nil
	}
	u.br.buf, u.br.r, u.br.w, u.br.lo = u.small[:], 0, 0, 0
}

// before returns the pooled buffer up to the first unread byte (the headroom and the
// consumed bytes), or nil when the reader is not on the pooled buffer.
func (u *upConn) before() []byte {
	b := &u.br
	if u.bp == nil || len(b.buf) == 0 || &b.buf[0] != &(*u.bp)[headRoom] {
		return nil
	}
	return (*u.bp)[:headRoom+b.r]
}

// close closes the connection and returns its buffer. It may be called more than
// once; nothing may use u afterwards.
func (u *upConn) close() {
	u.loopUnregister()
	u.dropBuf()
	_ = u.c.Close()
}

// upstreamPool keeps idle keep-alive connections per target address, newest on top
// (LIFO keeps a hot set warm and lets the rest expire). One mutex guards it; it is
// held only to push or pop, never across I/O.
type upstreamPool struct {
	mu      sync.Mutex
	hosts   map[string][]*upConn
	maxIdle int
	timeout time.Duration
	stall   time.Duration
	closed  bool
	janitor bool
	loop    bool // register dialled connections with the readiness loop
	stop    chan struct{}
	dialer  net.Dialer
}

// nearScan is how many of the newest idle connections get looks at for one its
// caller's poller serves.
const nearScan = 8

func newUpstreamPool(maxIdle int, timeout, stall time.Duration) *upstreamPool {
	return &upstreamPool{
		hosts: map[string][]*upConn{}, maxIdle: maxIdle, timeout: timeout, stall: stall,
		stop: make(chan struct{}),
	}
}

// get returns a pooled connection to addr, checking that the upstream has not closed
// it meanwhile, or nil. The newest idle one is taken (the others may time out), or,
// with near, one of the few newest that near's goroutine serves: an exchange the
// readiness loop runs then reads its answer on the poller that sent its request,
// which batches the answers with that poller's next requests (as nginx keeps its idle
// upstream connections per worker; docs/performance.md).
func (p *upstreamPool) get(addr string, now time.Time, near *netpoll.Poller) *upConn {
	for {
		p.mu.Lock()
		list := p.hosts[addr]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		i := len(list) - 1
		if near != nil {
			for j := i; j >= max(0, i-nearScan+1); j-- {
				if r := list[j].lp.reg; r != nil && r.Poller() == near {
					list[i], list[j] = list[j], list[i]
					break
				}
			}
		}
		u := list[i]
		list[i] = nil
		p.hosts[addr] = list[:i]
		p.mu.Unlock()
		if now.Sub(u.idleAt) >= p.timeout {
			u.close()
			continue
		}
		// A connection idle for a while is probed without blocking: an upstream that
		// closed it (or sent unsolicited bytes) is caught here instead of failing the
		// request. Hot connections skip the syscall; the retry-on-reused-conn rule covers
		// the race that remains.
		if now.Sub(u.idleAt) > 200*time.Millisecond && !alive(u.c) {
			u.close()
			continue
		}
		return u
	}
}

// dial opens a new connection to addr.
func (p *upstreamPool) dial(addr string, timeout time.Duration) (*upConn, error) {
	d := p.dialer
	d.Timeout = timeout
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	u := &upConn{c: rawio.Wrap(c), addr: addr, dl: deadline{d: p.stall}}
	u.br.c = c
	u.br.buf = u.small[:]
	u.initAwait()
	if p.loop {
		u.loopRegister()
	}
	return u, nil
}

// release ends an exchange's use of u: closed when closeIt (the upstream said close,
// or the exchange cannot tell where the connection's next response starts), else
// pooled.
func (p *upstreamPool) release(u *upConn, closeIt bool) {
	if closeIt {
		u.close()
		return
	}
	p.put(u, time.Now())
}

// put returns a connection whose last response was read completely.
func (p *upstreamPool) put(u *upConn, now time.Time) {
	if p.maxIdle < 0 || u.br.r != u.br.w { // unsolicited bytes after a response: unusable
		u.close()
		return
	}
	u.dropBuf()
	u.idleAt = now
	u.reused = true
	p.mu.Lock()
	if p.closed || len(p.hosts[u.addr]) >= p.maxIdle {
		p.mu.Unlock()
		u.close()
		return
	}
	p.hosts[u.addr] = append(p.hosts[u.addr], u)
	if !p.janitor {
		p.janitor = true
		go p.sweep()
	}
	p.mu.Unlock()
}

// sweep closes connections idle past the timeout, so an upstream without traffic does
// not hold idle sockets forever.
func (p *upstreamPool) sweep() {
	t := time.NewTicker(p.timeout / 2)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			var expired []*upConn
			p.mu.Lock()
			for addr, list := range p.hosts {
				n := 0 // oldest are at the bottom
				for n < len(list) && now.Sub(list[n].idleAt) >= p.timeout {
					expired = append(expired, list[n])
					n++
				}
				if n == len(list) {
					delete(p.hosts, addr)
				} else if n > 0 {
					rest := copy(list, list[n:])
					clear(list[rest:])
					p.hosts[addr] = list[:rest]
				}
			}
			p.mu.Unlock()
			for _, u := range expired {
				u.close()
			}
		}
	}
}

// close closes every idle connection and stops pooling.
func (p *upstreamPool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	hosts := p.hosts
	p.hosts = map[string][]*upConn{}
	p.mu.Unlock()
	close(p.stop)
	for _, list := range hosts {
		for _, u := range list {
			u.close()
		}
	}
}
