//go:build !linux

package h1

import "github.com/gantrygw/gantry/internal/netpoll"

// The readiness loop runs on Linux only (loop_linux.go); elsewhere every exchange
// runs on its connection's goroutine.

const (
	stateLoop int32 = iota + stateWoken + 1
	stateLoopPending
)

type loopState struct{}

type upLoop struct{ reg *netpoll.Registration }

func loopSupported() bool { return false }

func (c *conn) enterLoop() bool { return false }

func (u *upConn) loopRegister() {}

func (u *upConn) loopUnregister() {}
