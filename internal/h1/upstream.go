package h1

import (
	"net"
	"sync"
	"time"
)

// upConn is one connection to an upstream target. Response heads are parsed in place
// in its read buffer, which it holds only while it serves an exchange: an idle pooled
// connection holds none.
type upConn struct {
	c      net.Conn
	br     reader
	bp     *[]byte // pooled read buffer, nil while idle
	addr   string
	idleAt time.Time
	dl     deadline
	reused bool // served a response before: may have been closed by the upstream
}

// takeBuf gives u a read buffer for one exchange. It is as large as the copy buffer
// (not the 4 KiB of a client's read buffer), so a response head and a body of up to
// about 32 KiB arrive in one read and are written on from where they landed: no
// second read, no copy through another buffer (docs/performance.md, h1 16k).
func (u *upConn) takeBuf() {
	if u.bp == nil {
		u.bp = copyBufPool.Get().(*[]byte)
		u.br.buf = (*u.bp)[headRoom:]
	}
}

// headRoom is kept free in front of the upstream read buffer. The response head the
// client gets is put there, right before the body bytes that arrived with the upstream's
// head, so both leave in one write (see copyLength). It covers what the engine adds
// to a head beyond what it drops; a larger head goes out in a write of its own.
const headRoom = 512

// before returns the pooled buffer up to the first unread byte (the headroom and the
// consumed bytes), or nil when the reader's buffer is not the pooled one (a response
// head outgrew it).
func (u *upConn) before() []byte {
	b := &u.br
	if u.bp == nil || len(b.buf) == 0 || &b.buf[0] != &(*u.bp)[headRoom] {
		return nil
	}
	return (*u.bp)[:headRoom+b.r]
}

// dropBuf returns the read buffer; the caller has consumed or abandoned what it held.
func (u *upConn) dropBuf() {
	if u.bp != nil {
		copyBufPool.Put(u.bp)
		u.bp = nil
	}
	u.br.buf, u.br.r, u.br.w, u.br.lo = nil, 0, 0, 0
}

// close closes the connection and returns its buffer. It may be called more than
// once; nothing may use u afterwards.
func (u *upConn) close() {
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
	stop    chan struct{}
	dialer  net.Dialer
}

func newUpstreamPool(maxIdle int, timeout, stall time.Duration) *upstreamPool {
	return &upstreamPool{
		hosts: map[string][]*upConn{}, maxIdle: maxIdle, timeout: timeout, stall: stall,
		stop: make(chan struct{}),
	}
}

// get returns a pooled connection to addr, checking that the upstream has not closed
// it meanwhile, or nil.
func (p *upstreamPool) get(addr string, now time.Time) *upConn {
	for {
		p.mu.Lock()
		list := p.hosts[addr]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		u := list[len(list)-1]
		list[len(list)-1] = nil
		p.hosts[addr] = list[:len(list)-1]
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
		u.takeBuf()
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
	u := &upConn{c: c, addr: addr, dl: deadline{d: p.stall}}
	u.br.c = c
	u.takeBuf()
	return u, nil
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
