package netpoll

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// Events is a set of readiness conditions.
type Events uint32

const (
	// Readable: bytes (or EOF) can be read without blocking.
	Readable Events = 1 << iota
	// Writable: the send buffer has room.
	Writable
	// Hangup: the peer closed its side or the socket has an error; a read returns
	// EOF or the error without blocking.
	Hangup
)

// Handler receives readiness. Ready runs on the poller's goroutine and must not
// block (see the package doc).
type Handler interface {
	Ready(ev Events)
}

// Deferred is work a handler puts off to the end of its poller's batch (Poller.Defer).
type Deferred interface {
	Flush()
}

// Sender is deferred work that is one send on a socket (Poller.DeferSend). The poller
// sends the bytes of all the Senders of a round together, in one system call where it
// can (io_uring on Linux), else with one send(2) each, and reports every result to
// Sent. The Sender keeps fd open, and b unchanged, until Sent.
type Sender interface {
	// SendArgs returns the socket and the bytes to send (len(b) > 0).
	SendArgs() (fd int, b []byte)
	// Sent reports how many bytes of b the socket took, without waiting for room:
	// fewer than len(b) with a nil error when it was full. ErrSendUnknown says the
	// poller could not learn whether the bytes went: the connection's state is
	// unknown and it must not be used again.
	Sent(n int, err error)
}

// ErrSendUnknown is Sent's error when the outcome of a send could not be learned.
var ErrSendUnknown = errors.New("netpoll: outcome of a batched send unknown")

// ErrUnsupported is returned by New on platforms without a readiness loop; callers
// keep their goroutine-per-connection path there.
var ErrUnsupported = errors.New("netpoll: not supported on " + runtime.GOOS)

// ErrClosed is returned when registering with a closed Poller.
var ErrClosed = errors.New("netpoll: poller closed")

// Group spreads registrations over a fixed set of pollers.
type Group struct {
	ps   []*Poller
	next atomic.Uint32
}

// NewGroup starts n pollers (n <= 0: one per GOMAXPROCS).
func NewGroup(n int) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{}
	for range n {
		p, err := New()
		if err != nil {
			g.Close()
			return nil, err
		}
		g.ps = append(g.ps, p)
	}
	return g, nil
}

// Pick returns the next poller, round robin.
func (g *Group) Pick() *Poller {
	return g.ps[int(g.next.Add(1))%len(g.ps)]
}

// Close closes every poller of the group.
func (g *Group) Close() {
	for _, p := range g.ps {
		p.Close()
	}
}

// Shared returns the process-wide group (one poller per GOMAXPROCS at first use),
// started on first call and never closed. It returns ErrUnsupported where there is
// no readiness loop.
var Shared = sync.OnceValues(func() (*Group, error) { return NewGroup(0) })
