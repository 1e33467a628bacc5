//go:build linux

package rawio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Recv is recvfrom(2) into p on a non-blocking socket, retried on EINTR. 0, nil is
// the peer's end of stream; unix.EAGAIN means nothing is there yet.
func Recv(fd int, p []byte) (int, error) {
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0, 0, 0)
		if e == 0 {
			return int(n), nil
		}
		if e != unix.EINTR {
			return 0, e
		}
	}
}

// Send is sendto(2) of p with MSG_NOSIGNAL on a non-blocking socket, retried on EINTR.
// It may write less than p (the socket buffer filled); unix.EAGAIN means nothing fit.
func Send(fd int, p []byte) (int, error) {
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
		if e == 0 {
			return int(n), nil
		}
		if e != unix.EINTR {
			return 0, e
		}
	}
}

// Sendv is sendmsg(2) of the buffers in order, with MSG_NOSIGNAL, retried on EINTR:
// one system call (one wake-up of the peer) for a head and a body. iov is scratch
// space for at least len(bufs) entries (a caller keeps one per connection, so nothing
// is allocated); empty buffers are skipped. Like Send it may write less than the whole.
func Sendv(fd int, bufs [][]byte, iov []unix.Iovec) (int, error) {
	k := 0
	for _, b := range bufs {
		if len(b) == 0 || k == len(iov) {
			continue
		}
		iov[k].Base = unsafe.SliceData(b)
		iov[k].SetLen(len(b))
		k++
	}
	if k == 0 {
		return 0, nil
	}
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(k)
	for {
		n, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_NOSIGNAL)
		if e == 0 {
			clear(iov[:k]) // keep no pointers into the caller's buffers
			return int(n), nil
		}
		if e != unix.EINTR {
			clear(iov[:k])
			return 0, e
		}
	}
}

// Splice moves up to n bytes from in to out without a user-space copy; one of them
// must be a pipe. Non-blocking on both: sockets the runtime polls are, and
// SPLICE_F_NONBLOCK covers the pipe.
func Splice(in, out, n int) (int, error) {
	for {
		w, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if e == 0 {
			return int(w), nil
		}
		if e != unix.EINTR {
			return 0, e
		}
	}
}
