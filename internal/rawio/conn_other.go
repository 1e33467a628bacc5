//go:build !linux

package rawio

import "net"

// Wrap returns c: raw socket calls are only used on Linux.
func Wrap(c net.Conn) net.Conn { return c }

// Listener returns ln: raw socket calls are only used on Linux.
func Listener(ln net.Listener) net.Listener { return ln }
