//go:build linux

package netpoll

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gantrygw/gantry/internal/rawio"
)

// Poller is one epoll instance and the goroutine that waits on it.
//
// The goroutine does not block in epoll_wait: a blocked syscall keeps its P (the
// runtime's processor) until sysmon takes it back, 20 µs to 10 ms later, so with one
// poller per P every goroutine woken by the runtime's own poller (an accept loop, a
// client in the same process) waited for sysmon: a proxied round trip took 167 µs
// instead of 46. Instead the epoll descriptor itself is registered with the runtime's
// poller (an epoll descriptor is readable while it has events) and the loop parks
// like any goroutine waiting to read: it drains events with epoll_wait(0) and parks
// after a batch that did not fill the event array.
type Poller struct {
	epfd int
	file *os.File        // epfd, registered with the runtime's poller
	rc   syscall.RawConn // file's, for parking on epfd readiness
	wake int             // eventfd that wakes the loop for Close

	// slots maps the 64-bit epoll data word (index, generation) to a registration.
	// Descriptor numbers are not used as keys: the kernel may still deliver an event
	// queued for a descriptor that was removed and whose number a new registration
	// reuses; the generation drops it. The loop reads the table without a lock (one
	// atomic load per event: a mutex per event cost about 0.4 µs per relayed
	// request); Add and release change it under mu, and growing it publishes a copy.
	slots atomic.Pointer[[]atomic.Pointer[Registration]]

	mu     sync.Mutex
	gens   []uint32 // next generation per slot index, under mu
	free   []uint32
	closed bool
	done   chan struct{}

	// deferred is what handlers of the current batch put off to its end (Defer,
	// DeferSend); only the poller's goroutine touches it, as the fields below.
	deferred []deferredItem

	// ring sends a round's Senders together (nil until a round has two; noRing once
	// it could not be set up or broke). sfd, sbuf, sres and sdone are its scratch,
	// later the round's other deferred work, run after its sends.
	ring   *uring
	noRing bool
	sfd    []int
	sbuf   [][]byte
	sres   []int32
	sdone  []Sender
	later  []Deferred
}

// SendsBatched reports whether pollers send a round's Senders together: io_uring can
// be set up here and GANTRY_URING is not off. Probed once.
func SendsBatched() bool {
	ok, _ := SendPath()
	return ok
}

// SendPath is SendsBatched with, when sends are not batched, the reason in words (for
// the startup log: an operator who sees one send per request learns what refused
// io_uring and what to change).
func SendPath() (batched bool, why string) { return sendPath() }

var sendPath = sync.OnceValues(probeSendPath)

// probeSendPath sets up a throwaway ring to learn whether the pollers' rings can be had.
func probeSendPath() (bool, string) {
	if uringOff {
		return false, "GANTRY_URING=off"
	}
	r, err := uringSetup()
	if err != nil {
		return false, uringRefusal(err)
	}
	r.close()
	return true, ""
}

// uringRefusal says why io_uring could not be set up, and what usually causes it.
func uringRefusal(err error) string {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return err.Error() + ": refused by a seccomp profile (a container runtime's default one) or by the kernel.io_uring_disabled sysctl"
	case errors.Is(err, unix.ENOSYS):
		return err.Error() + ": the kernel has no io_uring, or a seccomp profile hides it"
	case errors.Is(err, unix.ENOTSUP):
		return err.Error() + ": the kernel's io_uring is older than Linux 5.11"
	}
	return err.Error()
}

// uringOff: GANTRY_URING=off sends deferred sends one by one (kept for A/B runs and
// as a way out where io_uring misbehaves).
var uringOff = os.Getenv("GANTRY_URING") == "off"

// deferredItem is one piece of deferred work: d (Defer) or s (DeferSend).
type deferredItem struct {
	d Deferred
	s Sender
}

// wakeIndex marks the eventfd's event.
const wakeIndex = ^uint32(0)

// Registration is one descriptor's membership in a Poller.
type Registration struct {
	p       *Poller
	fd      int
	idx     uint32
	gen     uint32
	h       Handler
	oneshot bool
}

// Supported reports whether this platform has a readiness loop.
func Supported() bool { return true }

// New creates a poller and starts its goroutine.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmtErr("epoll_create1", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmtErr("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setKey(&ev, wakeIndex, 0)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmtErr("epoll_ctl", err)
	}
	// os.NewFile registers only non-blocking descriptors with the runtime's poller;
	// the flag does not change epoll_wait, which takes its timeout explicitly.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmtErr("fcntl", err)
	}
	file := os.NewFile(uintptr(epfd), "netpoll")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		unix.Close(wake)
		return nil, fmtErr("epoll", err)
	}
	p := &Poller{epfd: epfd, file: file, rc: rc, wake: wake, done: make(chan struct{})}
	go p.loop()
	return p, nil
}

func setKey(ev *unix.EpollEvent, idx, gen uint32) {
	// EpollEvent's Fd and Pad fields are the kernel's 64-bit data union.
	ev.Fd = int32(idx)
	ev.Pad = int32(gen)
}

func toEpoll(ev Events, oneshot bool) uint32 {
	e := uint32(unix.EPOLLET | unix.EPOLLRDHUP)
	if ev&Readable != 0 {
		e |= unix.EPOLLIN
	}
	if ev&Writable != 0 {
		e |= unix.EPOLLOUT
	}
	if oneshot {
		e |= unix.EPOLLONESHOT
	}
	return e
}

func fromEpoll(e uint32) Events {
	var ev Events
	if e&(unix.EPOLLIN|unix.EPOLLPRI) != 0 {
		ev |= Readable
	}
	if e&unix.EPOLLOUT != 0 {
		ev |= Writable
	}
	if e&(unix.EPOLLHUP|unix.EPOLLRDHUP|unix.EPOLLERR) != 0 {
		ev |= Hangup | Readable // a read reports the EOF or error at once
	}
	return ev
}

// Add registers fd for ev, edge-triggered: Ready is called when a condition becomes
// true, and the handler must drain (read until EAGAIN, or until a short read) before
// it is told again. With oneshot, the registration is disabled after one Ready until
// Rearm. The caller keeps owning fd; call Remove before closing it.
func (p *Poller) Add(fd int, ev Events, oneshot bool, h Handler) (*Registration, error) {
	r := new(Registration)
	if err := p.AddTo(r, fd, ev, oneshot, h); err != nil {
		return nil, err
	}
	return r, nil
}

// AddTo is Add into a Registration the caller provides (for one embedded in a
// pooled object: a relay session registers two descriptors per connection). r may
// be reused for another AddTo once it was removed or forgotten from inside a Ready
// of its poller, or once its poller is closed; removed from another goroutine, a
// Ready already running may still read it.
func (p *Poller) AddTo(r *Registration, fd int, ev Events, oneshot bool, h Handler) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	var idx uint32
	if n := len(p.free); n > 0 {
		idx = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		idx = uint32(len(p.gens))
		p.gens = append(p.gens, 0)
		p.grow(len(p.gens))
	}
	*r = Registration{p: p, fd: fd, idx: idx, gen: p.gens[idx], h: h, oneshot: oneshot}
	(*p.slots.Load())[idx].Store(r)
	p.mu.Unlock()

	e := unix.EpollEvent{Events: toEpoll(ev, oneshot)}
	setKey(&e, idx, r.gen)
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &e); err != nil {
		p.release(r)
		return fmtErr("epoll_ctl add", err)
	}
	return nil
}

// Rearm re-enables a oneshot registration (or changes the events of any) for ev.
func (r *Registration) Rearm(ev Events) error {
	e := unix.EpollEvent{Events: toEpoll(ev, r.oneshot)}
	setKey(&e, r.idx, r.gen)
	if err := unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_MOD, r.fd, &e); err != nil {
		return fmtErr("epoll_ctl mod", err)
	}
	return nil
}

// Remove ends the registration. The descriptor is not closed. Removing twice, or
// after the descriptor was closed (which the kernel treats as removal), is not an
// error.
func (r *Registration) Remove() error {
	err := unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_DEL, r.fd, nil)
	r.p.release(r)
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBADF) {
		return fmtErr("epoll_ctl del", err)
	}
	return nil
}

// Forget ends the registration without telling the kernel, for a caller that closes
// the descriptor right after and holds its only reference (no dup, no fork): the
// close removes it from the epoll set, so EPOLL_CTL_DEL would be a wasted syscall per
// descriptor. Events the kernel queued before the close are dropped by the
// generation check, as after Remove.
func (r *Registration) Forget() { r.p.release(r) }

// FD returns the registered descriptor.
func (r *Registration) FD() int { return r.fd }

func (p *Poller) release(r *Registration) {
	p.mu.Lock()
	if s := &(*p.slots.Load())[r.idx]; s.Load() == r {
		s.Store(nil)
		p.gens[r.idx]++
		p.free = append(p.free, r.idx)
	}
	p.mu.Unlock()
}

// grow makes the slot table hold at least n entries, publishing a larger copy
// (doubling, so Add stays amortised O(1)). Called under mu, which every writer of
// the table holds, so the copy misses no store.
func (p *Poller) grow(n int) {
	old := p.slots.Load()
	if old != nil && len(*old) >= n {
		return
	}
	size := 64
	if old != nil {
		size = 2 * len(*old)
	}
	t := make([]atomic.Pointer[Registration], max(size, n))
	if old != nil {
		for i := range *old {
			t[i].Store((*old)[i].Load())
		}
	}
	p.slots.Store(&t)
}

// lookup returns the live registration for an event's key, or nil for a stale one.
// A registration's gen does not change while it is in the table, so comparing it
// after the load is enough: a slot reused since the event was queued holds a
// registration of another generation. The table is loaded per event, so a release
// by an earlier handler of the same batch is seen.
func (p *Poller) lookup(idx, gen uint32) *Registration {
	t := *p.slots.Load()
	if int(idx) >= len(t) {
		return nil
	}
	if r := t[idx].Load(); r != nil && r.gen == gen {
		return r
	}
	return nil
}

func (p *Poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	stop := false
	// drain runs under RawConn.Read: it returns false to park until the runtime's
	// poller sees epfd readable, true to end the loop. A batch shorter than the array
	// drained the ready list; an event queued after that makes epfd readable again
	// (and the runtime remembers it if it came while we were still running).
	drain := func(fd uintptr) bool {
		for {
			n, err := epollWait(int(fd), events)
			if err != nil {
				if err == unix.EINTR {
					continue
				}
				stop = true // nothing else is expected from epoll_wait
				return true
			}
			for i := range n {
				e := &events[i]
				idx, gen := uint32(e.Fd), uint32(e.Pad)
				if idx == wakeIndex {
					p.mu.Lock()
					closed := p.closed
					p.mu.Unlock()
					if closed {
						p.flush()
						stop = true
						return true
					}
					continue
				}
				if r := p.lookup(idx, gen); r != nil {
					r.h.Ready(fromEpoll(e.Events))
				}
			}
			p.flush()
			if n < len(events) {
				return false
			}
		}
	}
	for !stop {
		if err := p.rc.Read(drain); err != nil {
			return
		}
	}
}

// Poller returns the poller r is registered with.
func (r *Registration) Poller() *Poller { return r.p }

// Defer puts d off to the end of the batch of events p's goroutine is handling:
// d.Flush runs after every Ready of the batch and before the next epoll_wait (or the
// park), in the order deferred; what a Flush (or a Sent) defers runs in a next round,
// still before the wait. Only a Ready (or a Flush, or a Sent) running on p's
// goroutine may call it.
//
// What it is for: a handler that sends to a peer which will answer (an HTTP/1.1
// request to an upstream) wakes that peer if it sleeps. Sent one per event, the
// sends of one batch each find the peer asleep again; sent together at the end, they
// wake it once (see docs/performance.md).
func (p *Poller) Defer(d Deferred) { p.deferred = append(p.deferred, deferredItem{d: d}) }

// DeferSend is Defer for a send: the round's Senders go out together, before its
// other work, and learn their results through Sent in the order deferred.
func (p *Poller) DeferSend(s Sender) { p.deferred = append(p.deferred, deferredItem{s: s}) }

// flush runs the deferred work of the batch that just ended, in rounds: what a
// round's work defers is the next round.
func (p *Poller) flush() {
	for start := 0; start < len(p.deferred); {
		end := len(p.deferred)
		p.round(start, end)
		start = end
	}
	p.deferred = p.deferred[:0]
}

// round runs p.deferred[start:end]: its Senders first, through the ring when there
// are two or more and a ring can be had, else one send(2) each; then its other work,
// in order.
func (p *Poller) round(start, end int) {
	n := 0
	for _, it := range p.deferred[start:end] {
		if it.s != nil {
			n++
		}
	}
	if n >= 2 && p.ring == nil && !p.noRing && !uringOff {
		if r, err := uringSetup(); err == nil {
			p.ring = r
		} else {
			p.noRing = true
		}
	}
	for i := start; i < end; i++ {
		it := p.deferred[i]
		p.deferred[i] = deferredItem{}
		switch {
		case it.s == nil:
			p.later = append(p.later, it.d)
		case n >= 2 && p.ring != nil:
			fd, b := it.s.SendArgs()
			p.sfd, p.sbuf, p.sdone = append(p.sfd, fd), append(p.sbuf, b), append(p.sdone, it.s)
			if len(p.sfd) == int(p.ring.sqSize) {
				p.sendBatch()
			}
		default:
			sendOne(it.s)
		}
	}
	p.sendBatch()
	for i, d := range p.later {
		p.later[i] = nil
		d.Flush()
	}
	p.later = p.later[:0]
}

// sendOne sends s with one send(2) and reports the result as the ring would.
func sendOne(s Sender) {
	fd, b := s.SendArgs()
	n, err := rawio.Send(fd, b)
	r := int32(n)
	if e, ok := err.(unix.Errno); ok {
		r = -int32(e) // rawio.Send's only errors are errnos
	}
	report(s, r)
}

// sendBatch submits the gathered sends and reports their results.
func (p *Poller) sendBatch() {
	k := len(p.sfd)
	if k == 0 {
		return
	}
	if cap(p.sres) < k {
		p.sres = make([]int32, int(p.ring.sqSize))
	}
	res := p.sres[:k]
	if err := p.ring.sendAll(p.sfd, p.sbuf, res); err != nil {
		p.ring.close()
		p.ring, p.noRing = nil, true
	}
	for i, s := range p.sdone {
		p.sdone[i], p.sbuf[i] = nil, nil
		report(s, res[i])
	}
	p.sfd, p.sbuf, p.sdone = p.sfd[:0], p.sbuf[:0], p.sdone[:0]
}

// report gives s the result r of its send, in the ring's terms: the bytes the socket
// took, -EAGAIN (it took none: full, reported as 0 and no error), resUnknown, or
// another -errno. One mapping for both send paths.
func report(s Sender, r int32) {
	switch {
	case r >= 0:
		s.Sent(int(r), nil)
	case r == -int32(unix.EAGAIN):
		s.Sent(0, nil)
	case r == resUnknown:
		s.Sent(0, ErrSendUnknown)
	default:
		s.Sent(0, fmtErr("send", unix.Errno(-r)))
	}
}

// epollWait polls without blocking. RawSyscall: a call that never blocks needs no
// entersyscall/exitsyscall; epoll_pwait because arm64 has no epoll_wait.
func epollWait(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Close stops the poller's goroutine and closes the epoll descriptor; registered
// descriptors stay open (their owners close them). Handlers are not called after
// Close returns.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	one := [8]byte{1}
	unix.Write(p.wake, one[:]) //nolint:errcheck // a full counter still wakes the loop
	<-p.done
	if p.ring != nil {
		p.ring.close()
		p.ring = nil
	}
	unix.Close(p.wake)
	return p.file.Close()
}

// Detach takes a connection's socket away from the Go runtime: it duplicates the
// descriptor (close-on-exec, still non-blocking: the flag lives on the shared open
// file), then closes c, which removes the original from the runtime's poller. The
// caller owns the returned descriptor and closes it with unix.Close; c must not be
// used again.
func Detach(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	d := dupPool.Get().(*duper)
	err = rc.Control(d.fn)
	fd, derr := d.fd, d.err
	d.fd, d.err = -1, nil
	dupPool.Put(d)
	if err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmtErr("dup", derr)
	}
	if cl, ok := c.(interface{ Close() error }); ok {
		cl.Close()
	}
	return fd, nil
}

// duper is Detach's Control callback with its results, pooled with the method
// value bound once: a closure per call cost three allocations per descriptor.
type duper struct {
	fd  int
	err error
	fn  func(uintptr)
}

func (d *duper) dup(s uintptr) { d.fd, d.err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }

var dupPool = sync.Pool{New: func() any {
	d := &duper{fd: -1}
	d.fn = d.dup
	return d
}}

// FDOf returns a connection's descriptor without taking it over (the connection
// keeps owning it); for parking a net.Conn that will be read again through Go.
func FDOf(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("netpoll: connection has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return -1, err
	}
	return fd, nil
}

func fmtErr(op string, err error) error { return &net.OpError{Op: op, Net: "netpoll", Err: err} }
