package h1

import (
	"net"
	"sync"
	"time"
)

// upConn is one connection to an upstream target. Its read buffer lives as long as
// the connection (response heads are parsed in place in it).
type upConn struct {
	c      net.Conn
	br     reader
	addr   string
	idleAt time.Time
	dl     deadline
	reused bool // served a response before: may have been closed by the upstream
}

func (u *upConn) close() { _ = u.c.Close() }

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
	u.br = reader{c: c, buf: make([]byte, readBufSize)}
	return u, nil
}

// put returns a connection whose last response was read completely.
func (p *upstreamPool) put(u *upConn, now time.Time) {
	if p.maxIdle < 0 || u.br.r != u.br.w { // unsolicited bytes after a response: unusable
		u.close()
		return
	}
	u.br.r, u.br.w, u.br.lo = 0, 0, 0
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
