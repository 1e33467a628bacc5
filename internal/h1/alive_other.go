//go:build !linux

package h1

import "net"

// alive cannot probe without blocking here; the retry on a reused connection that
// fails before any response byte covers stale connections instead.
func alive(c net.Conn) bool { return true }
