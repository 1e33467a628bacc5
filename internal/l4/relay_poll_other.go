//go:build !linux

package l4

import (
	"net"
	"time"
)

// pollRelay is the readiness-loop relay, Linux only; elsewhere run declines and the
// goroutine relay carries every session.
type pollRelay struct{ noReuse bool }

func pollSupported() bool { return false }

func (r *pollRelay) run(c, up net.Conn) (in, out int64, err error, ok bool) { return 0, 0, nil, false }

func (r *pollRelay) abort(err error) {}

func (r *pollRelay) idleTick(now time.Time, idle time.Duration) {}
