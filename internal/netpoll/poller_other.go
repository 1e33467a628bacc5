//go:build !linux

package netpoll

import (
	"net"
	"runtime"
	"syscall"
)

// Poller is unavailable on this platform; New returns ErrUnsupported.
type Poller struct{}

// Registration is unavailable on this platform.
type Registration struct{}

// Supported reports whether this platform has a readiness loop.
func Supported() bool { return false }

// New returns ErrUnsupported on this platform.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Add returns ErrUnsupported on this platform.
func (p *Poller) Add(fd int, ev Events, oneshot bool, h Handler) (*Registration, error) {
	return nil, ErrUnsupported
}

// AddTo returns ErrUnsupported on this platform.
func (p *Poller) AddTo(r *Registration, fd int, ev Events, oneshot bool, h Handler) error {
	return ErrUnsupported
}

// Rearm returns ErrUnsupported on this platform.
func (r *Registration) Rearm(ev Events) error { return ErrUnsupported }

// Remove returns ErrUnsupported on this platform.
func (r *Registration) Remove() error { return ErrUnsupported }

// Forget does nothing on this platform.
func (r *Registration) Forget() {}

// FD returns -1 on this platform.
func (r *Registration) FD() int { return -1 }

// Poller returns nil on this platform.
func (r *Registration) Poller() *Poller { return nil }

// Defer does nothing on this platform (no Ready ever runs).
func (p *Poller) Defer(d Deferred) {}

// DeferSend does nothing on this platform (no Ready ever runs).
func (p *Poller) DeferSend(s Sender) {}

// Close does nothing on this platform.
func (p *Poller) Close() error { return nil }

// Detach returns ErrUnsupported on this platform.
func Detach(c syscall.Conn) (int, error) { return -1, ErrUnsupported }

// FDOf returns ErrUnsupported on this platform.
func FDOf(c net.Conn) (int, error) { return -1, ErrUnsupported }

// SendsBatched reports whether pollers send a round's Senders together: never here.
func SendsBatched() bool { return false }

// SendPath reports that sends are not batched here, and why.
func SendPath() (batched bool, why string) { return false, "no io_uring on " + runtime.GOOS }
