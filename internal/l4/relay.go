package l4

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// copyBufSize is the pooled buffer size for copies the kernel cannot splice.
const copyBufSize = 32 << 10

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// spliceOK: on Linux, (*net.TCPConn).ReadFrom(*net.TCPConn) moves bytes with
// splice(2) without entering user space. Elsewhere ReadFrom falls back to io.Copy
// with a fresh 32 KiB buffer per call, so we copy with a pooled one instead.
const spliceOK = runtime.GOOS == "linux"

// relay copies both ways between a client and its target, half-closing each side
// when the other reaches EOF, and enforces the idle timeout.
//
// Idle detection without per-read deadlines: each direction arms a read deadline one
// "tick" (a quarter of the idle timeout) ahead and then lets the copy run; splice
// returns only at EOF, on error or at that deadline. When it returns with bytes moved,
// the shared last-activity stamp is updated and the deadline re-armed; when a tick
// passes and neither direction has stamped activity for the idle timeout, the session
// is closed. So the deadline is touched once per tick, not once per read, and the
// splice path is kept. The price is precision: an idle session is closed between
// IdleTimeout and IdleTimeout+tick after its last byte.
type relay struct {
	last atomic.Int64 // unix nanos of the last observed activity
	dirs [2]direction // client→target, target→client
	wg   sync.WaitGroup
	in   int64

	mu  sync.Mutex
	err error // the first failure; later ones are its consequence (closed conns)
}

// run relays until both directions end and returns bytes client→target (in),
// target→client (out) and the first error (nil when both sides ended with EOF).
func (r *relay) run(client, up net.Conn, idle time.Duration) (in, out int64, err error) {
	r.last.Store(time.Now().UnixNano())
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var err error
		r.in, err = r.pipe(up, client, &r.dirs[0], idle)
		r.finish(up, client, err)
	}()
	out, err = r.pipe(client, up, &r.dirs[1], idle)
	r.finish(client, up, err)
	r.wg.Wait()
	return r.in, out, r.err
}

// finish ends one direction: after a clean EOF the destination is half-closed so the
// peer sees it and the other direction keeps flowing; after an error both
// connections are closed, which also ends the other direction.
func (r *relay) finish(dst, src net.Conn, err error) {
	if err == nil {
		cw, ok := dst.(interface{ CloseWrite() error })
		if !ok {
			return // the other direction's end closes the session
		}
		if err = cw.CloseWrite(); err == nil {
			return
		}
	}
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	dst.Close()
	src.Close()
}

// pipe copies src to dst until EOF (nil error) or failure.
func (r *relay) pipe(dst, src net.Conn, st *direction, idle time.Duration) (int64, error) {
	tick := max(idle/4, time.Millisecond) // a zero tick would spin
	var total int64
	for {
		if idle > 0 {
			if err := src.SetReadDeadline(time.Now().Add(tick)); err != nil {
				return total, err
			}
		}
		n, err := copyOnce(dst, src, st)
		total += n
		if n > 0 {
			r.last.Store(time.Now().UnixNano())
		}
		if err == nil {
			return total, nil
		}
		if idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			if time.Duration(time.Now().UnixNano()-r.last.Load()) >= idle {
				return total, ErrIdle
			}
			continue
		}
		return total, err
	}
}

// copyOnce copies until EOF (nil error), error or deadline. st carries the
// direction's hybrid state across calls.
//
// Between TCP conns on Linux it is a hybrid. Small reads (the request/response
// traffic of most TCP services) go through a pooled buffer taken only while bytes
// are in hand: for a few hundred bytes read+write costs less than splice(2), which
// needs two splices through a pipe and holds that pipe (two descriptors) for the
// whole session. The first read that fills the buffer marks the direction as bulk,
// and from then on (*net.TCPConn).ReadFrom moves the bytes with splice, never
// entering user space.
func copyOnce(dst, src net.Conn, st *direction) (int64, error) {
	if spliceOK {
		if d, ok := dst.(*net.TCPConn); ok {
			if s, ok := src.(*net.TCPConn); ok {
				return st.hybrid(d, s)
			}
		}
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	// Hide ReaderFrom/WriterTo so io.CopyBuffer really uses the pooled buffer.
	return io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
}

// smallBufSize is the hybrid copy's buffer; a read that fills it switches the
// direction to splice.
const smallBufSize = 16 << 10

var smallBufPool = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}

// direction is one direction's hybrid copy state. Its read callback is built once
// per pooled session (it is bound to this struct's address, which the pool keeps)
// so neither a read nor a new session allocates it.
type direction struct {
	bulk bool
	rc   syscall.RawConn
	read func(fd uintptr) bool
	buf  *[]byte // held from a successful read until its bytes are written
	n    int
	err  error
}

func (st *direction) hybrid(dst, src *net.TCPConn) (int64, error) {
	if st.rc == nil {
		rc, err := src.SyscallConn()
		if err != nil {
			return 0, err
		}
		st.rc = rc
		if st.read == nil {
			st.read = st.readFD // kept across session reuse, see TCPServer.handle
		}
	}
	var total int64
	for !st.bulk {
		if err := st.rc.Read(st.read); err != nil {
			return total, err // deadline or closed conn
		}
		if st.err != nil {
			return total, os.NewSyscallError("read", st.err)
		}
		if st.n == 0 {
			return total, nil // EOF
		}
		w, err := dst.Write((*st.buf)[:st.n])
		total += int64(w)
		st.bulk = st.n == len(*st.buf)
		smallBufPool.Put(st.buf)
		st.buf = nil
		if err != nil {
			return total, err
		}
	}
	n, err := dst.ReadFrom(src)
	return total + n, err
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }
