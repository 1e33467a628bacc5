package h1

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// writer batches small writes into one buffer so a typical response (head plus a short
// body) leaves in a single write call; large pieces bypass the buffer.
type writer struct {
	c   net.Conn
	buf []byte
	dl  *deadline
	err error
	// vec and arr let write send the buffered bytes and a large piece in one writev
	// without allocating (net.Buffers consumes the slice it writes).
	vec net.Buffers
	arr [2][]byte
}

// vecWriter is a conn that writes several buffers in one system call without
// consuming the slice (internal/rawio's Conn). net.Buffers only takes that path for
// the net package's own conns.
type vecWriter interface {
	Writev(bufs [][]byte) (int64, error)
}

// flush writes the buffered bytes.
func (w *writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	w.dl.write(w.c)
	_, err := w.c.Write(w.buf)
	w.buf = w.buf[:0]
	w.err = err
	return err
}

// write buffers p, or, when it would not fit, writes the buffered bytes and p together:
// one writev, so a response head and a large body leave in one system call and the
// client is woken once.
func (w *writer) write(p []byte) error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf)+len(p) <= cap(w.buf) {
		w.buf = append(w.buf, p...)
		return nil
	}
	w.dl.write(w.c)
	var err error
	if len(w.buf) == 0 {
		_, err = w.c.Write(p)
	} else {
		w.arr[0], w.arr[1] = w.buf, p
		if vw, ok := w.c.(vecWriter); ok { // rawio: one sendmsg
			_, err = vw.Writev(w.arr[:])
		} else {
			w.vec = w.arr[:]
			_, err = w.vec.WriteTo(w.c)
			w.vec = nil
		}
		w.arr = [2][]byte{}
		w.buf = w.buf[:0]
	}
	w.err = err
	return err
}

// chunk writes p as one chunk of a chunked body.
func (w *writer) chunk(p []byte) error {
	var hdr [20]byte
	b := strconv.AppendUint(hdr[:0], uint64(len(p)), 16)
	b = append(b, '\r', '\n')
	if len(w.buf)+len(b)+len(p)+2 <= cap(w.buf) {
		w.buf = append(w.buf, b...)
		w.buf = append(w.buf, p...)
		w.buf = append(w.buf, '\r', '\n')
		return nil
	}
	w.buf = append(w.buf, b...)
	if err := w.write(p); err != nil {
		return err
	}
	w.buf = append(w.buf, '\r', '\n')
	return nil
}

// deadline refreshes a conn's read and write deadlines lazily: a deadline is only
// moved when less than half of d is left (or it is further away than d), so a busy
// connection updates its timers about twice per d instead of on every call. The cost
// is precision: a stall is detected after between d/2 and d.
type deadline struct {
	d  time.Duration
	rd time.Time // current read deadline (zero: none set)
	wd time.Time
}

func (dl *deadline) read(c net.Conn) { dl.readFor(c, dl.d) }

// readFor sets the read deadline to about now+d.
func (dl *deadline) readFor(c net.Conn, d time.Duration) {
	now := time.Now()
	if left := dl.rd.Sub(now); !dl.rd.IsZero() && left > d/2 && left <= d {
		return
	}
	dl.rd = now.Add(d)
	_ = c.SetReadDeadline(dl.rd)
}

// readExact sets the read deadline to exactly now+d (for ReadHeaderTimeout and
// ResponseHeaderTimeout, which are promises to the operator).
func (dl *deadline) readExact(c net.Conn, d time.Duration) {
	dl.rd = time.Now().Add(d)
	_ = c.SetReadDeadline(dl.rd)
}

func (dl *deadline) write(c net.Conn) {
	now := time.Now()
	if left := dl.wd.Sub(now); !dl.wd.IsZero() && left > dl.d/2 && left <= dl.d {
		return
	}
	dl.wd = now.Add(dl.d)
	_ = c.SetWriteDeadline(dl.wd)
}

// Buffer pools. Sizes are fixed so every pooled buffer is interchangeable.
const (
	readBufSize  = 4 << 10
	writeBufSize = 8 << 10
	copyBufSize  = 32 << 10
)

var (
	readBufPool  = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}
	writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, writeBufSize); return &b }}
	copyBufPool  = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
)

// dateCache holds the current IMF-fixdate Date value, rebuilt at most once a second.
var dateCache struct {
	sec atomic.Int64
	val atomic.Pointer[[]byte]
	mu  sync.Mutex
}

// appendDate appends "Date: <now>\r\n".
func appendDate(b []byte) []byte {
	now := time.Now()
	sec := now.Unix()
	if dateCache.sec.Load() != sec {
		dateCache.mu.Lock()
		if dateCache.sec.Load() != sec {
			v := now.UTC().AppendFormat(nil, "Mon, 02 Jan 2006 15:04:05 GMT")
			dateCache.val.Store(&v)
			dateCache.sec.Store(sec)
		}
		dateCache.mu.Unlock()
	}
	b = append(b, "Date: "...)
	b = append(b, *dateCache.val.Load()...)
	return append(b, "\r\n"...)
}
