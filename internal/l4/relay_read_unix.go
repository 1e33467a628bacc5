//go:build unix

package l4

import "syscall"

// readFD runs under RawConn.Read: it takes a buffer only once the socket has bytes
// (an idle session holds none) and returns false on EAGAIN to wait for readiness.
func (st *direction) readFD(fd uintptr) bool {
	bp := smallBufPool.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *bp)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			smallBufPool.Put(bp)
			return false
		case nil:
			if n == 0 { // EOF
				smallBufPool.Put(bp)
				bp = nil
			}
			st.buf, st.n, st.err = bp, n, nil
		default:
			smallBufPool.Put(bp)
			st.buf, st.n, st.err = nil, 0, err
		}
		return true
	}
}
