//go:build linux

package netpoll

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uring is the part of io_uring a poller uses to hand the kernel a batch's socket
// sends in one system call (Poller.flush, Sender). Written by hand: the few
// structures and one operation it needs are smaller than a library's, and it sits on
// the proxy's hot path. Only the poller's goroutine touches it.
//
// Why: a poller ends its batch by sending the upstream requests it gathered
// (docs/performance.md). With one sendmsg per request, the first send to a sleeping
// backend wakes it, and the kernel often switches to the backend before the poller's
// next send, so the batch's remaining requests waited for the poller to run again
// (measured: a flush of about eight sends took over a millisecond in one batch of ten
// under load). Submitted together, every send is done before the system call returns.
//
// The sends are non-blocking (MSG_DONTWAIT): one the socket cannot take completes at
// once with EAGAIN and the caller's slow path takes over, as for a short sendmsg. The
// sockets stay the callers' own; a Sender keeps its descriptor open until Sent.
type uring struct {
	fd      int
	ringMem []byte // the SQ and CQ rings (one mapping: IORING_FEAT_SINGLE_MMAP)
	sqeMem  []byte // the submission entries

	sqTail  *uint32
	sqMask  uint32
	sqSize  uint32
	sqArray unsafe.Pointer
	sqes    unsafe.Pointer
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    unsafe.Pointer
}

// Kernel ABI (include/uapi/linux/io_uring.h).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	uringOpSend       = 26     // IORING_OP_SEND (Linux 5.6)
	uringEnterGetEv   = 1      // IORING_ENTER_GETEVENTS
	uringSetupSubmit  = 1 << 7 // IORING_SETUP_SUBMIT_ALL: go on past a failed entry
	uringSetupCoop    = 1 << 8 // IORING_SETUP_COOP_TASKRUN: no IPI to the submitter
	uringFeatSingle   = 1 << 0 // IORING_FEAT_SINGLE_MMAP (5.4)
	uringFeatExtArg   = 1 << 8 // IORING_FEAT_EXT_ARG (5.11): also says OP_SEND is there
	uringOffSQEs      = 0x10000000
	uringEntries      = 256 // sends per system call; more go in turns
	sysIOUringSetup   = 425 // the same number on every architecture
	sysIOUringEnter   = 426
	sqeSize, cqeSize  = 64, 16
	uringFeaturesNeed = uringFeatSingle | uringFeatExtArg
)

// errUringBroken: the ring is left in a state it cannot be used in again.
var errUringBroken = errors.New("netpoll: io_uring submission failed")

// resUnknown is a result sendAll could not learn.
const resUnknown = -1 << 31

// uringSetup creates the ring; a variable so tests can make it fail.
var uringSetup = newUring

// newUring sets up a ring of uringEntries submission entries, or fails where the
// kernel has no io_uring, refuses it (kernel.io_uring_disabled, a seccomp filter such
// as container runtimes' default one) or is older than 5.11.
func newUring() (*uring, error) {
	var p uringParams
	p.flags = uringSetupSubmit | uringSetupCoop
	fd, _, e := unix.Syscall(sysIOUringSetup, uringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if e == unix.EINVAL { // a kernel without these flags (before 5.19)
		p = uringParams{}
		fd, _, e = unix.Syscall(sysIOUringSetup, uringEntries, uintptr(unsafe.Pointer(&p)), 0)
	}
	if e != 0 {
		return nil, fmtErr("io_uring_setup", e)
	}
	r := &uring{fd: int(fd)}
	if p.features&uringFeaturesNeed != uringFeaturesNeed {
		r.close()
		return nil, fmtErr("io_uring_setup", unix.ENOTSUP)
	}
	size := max(uintptr(p.sqOff.array)+uintptr(p.sqEntries)*4, uintptr(p.cqOff.cqes)+uintptr(p.cqEntries)*cqeSize)
	mem, err := unix.Mmap(r.fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmtErr("mmap", err)
	}
	r.ringMem = mem
	sqes, err := unix.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmtErr("mmap", err)
	}
	r.sqeMem = sqes
	base := unsafe.Pointer(&mem[0])
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	r.sqSize = p.sqEntries
	r.sqArray = unsafe.Add(base, p.sqOff.array)
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	r.cqes = unsafe.Add(base, p.cqOff.cqes)
	r.sqes = unsafe.Pointer(&sqes[0])
	return r, nil
}

// sendAll sends bufs[i] on fds[i] (every bufs[i] non-empty, at most sqSize of them)
// in one io_uring_enter and stores each result in res[i]: the bytes the socket took,
// or -errno (EAGAIN: it took none), or resUnknown. It returns errUringBroken when the
// ring must not be used again: entries the kernel did not take are then reported as
// EAGAIN (they were never sent), and a completion it could not wait for as
// resUnknown (the send may or may not have happened).
func (r *uring) sendAll(fds []int, bufs [][]byte, res []int32) error {
	k := uint32(len(fds))
	tail := atomic.LoadUint32(r.sqTail) // the kernel only reads it; we are the only writer
	for i := range k {
		idx := (tail + i) & r.sqMask
		*(*uringSQE)(unsafe.Add(r.sqes, uintptr(idx)*sqeSize)) = uringSQE{
			opcode:   uringOpSend,
			fd:       int32(fds[i]),
			addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(bufs[i])))),
			len:      uint32(len(bufs[i])),
			msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL,
			userData: uint64(i),
		}
		*(*uint32)(unsafe.Add(r.sqArray, uintptr(idx)*4)) = idx
		res[i] = resUnknown
	}
	atomic.StoreUint32(r.sqTail, tail+k) // publishes the entries written above
	// Submit. Raw: an enter that only submits never blocks (a non-blocking send is
	// done, or has failed, before the call returns), so it needs no entersyscall.
	var broken error
	taken := uint32(0)
	for taken < k {
		n, _, e := unix.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(k-taken), 0, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || n == 0 {
			// The rest stay queued, unsent; the ring is never entered again, so they
			// never go.
			for i := taken; i < k; i++ {
				res[i] = -int32(unix.EAGAIN)
			}
			broken = errUringBroken
			break
		}
		taken += uint32(n)
	}
	// Reap. Inline sends have posted their completions by now; a late one is waited
	// for (a blocking enter), so the buffers outlive every send.
	for got := uint32(0); got < taken; {
		head, ctail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		for ; head != ctail; head++ {
			c := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize))
			if c.userData < uint64(taken) {
				res[c.userData] = c.res
				got++
			}
		}
		atomic.StoreUint32(r.cqHead, head) // gives the slots back to the kernel
		if got < taken {
			_, _, e := unix.Syscall6(sysIOUringEnter, uintptr(r.fd), 0, uintptr(taken-got), uringEnterGetEv, 0, 0)
			if e != 0 && e != unix.EINTR {
				return errUringBroken // what is still resUnknown stays so
			}
		}
	}
	return broken
}

// close releases the ring (the kernel drops anything still queued in it).
func (r *uring) close() {
	if r.sqeMem != nil {
		_ = unix.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.ringMem != nil {
		_ = unix.Munmap(r.ringMem)
		r.ringMem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}
