package h1

import (
	"bytes"
	"io"
	"net"
)

// reader is a minimal buffered reader over a conn. Unlike bufio.Reader it exposes its
// buffer, so heads are parsed in place, and it has a floor (lo): bytes below lo are the
// current request's head, which views point into, so compaction never moves them.
type reader struct {
	c    net.Conn
	buf  []byte
	r, w int
	lo   int
	// fl, when set, is flushed before the reader blocks on the conn, so bytes batched
	// for the other side (a streamed response, a streamed request body) are never held
	// back while the engine waits.
	fl flusher
}

type flusher interface{ flush() error }

// buffered returns the unread bytes.
func (b *reader) buffered() []byte { return b.buf[b.r:b.w] }

// fill reads at least one more byte into the buffer, compacting the unread bytes down
// to lo first when the buffer's tail is full. errBufferFull means no room is left.
func (b *reader) fill() error {
	if b.r == b.w {
		b.r, b.w = b.lo, b.lo
	} else if b.w == len(b.buf) && b.r > b.lo {
		n := copy(b.buf[b.lo:], b.buf[b.r:b.w])
		b.r, b.w = b.lo, b.lo+n
	}
	if b.w == len(b.buf) {
		return errBufferFull
	}
	if b.fl != nil {
		if err := b.fl.flush(); err != nil {
			return err
		}
	}
	n, err := b.c.Read(b.buf[b.w:])
	b.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		return errNoProgress
	}
	return err
}

// Read is read, as an io.Reader (for pump).
func (b *reader) Read(p []byte) (int, error) { return b.read(p) }

// read copies buffered bytes into p, or reads the conn straight into p when nothing is
// buffered and p is large (no double copy for bodies). It never returns more than
// len(p) bytes, so a caller limiting p to a message's length never over-reads.
func (b *reader) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if len(p) >= 2048 {
			if b.fl != nil {
				if err := b.fl.flush(); err != nil {
					return 0, err
				}
			}
			n, err := b.c.Read(p)
			if n > 0 {
				return n, nil
			}
			if err == nil {
				err = errNoProgress
			}
			return 0, err
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// line returns the next CRLF-terminated line without its CRLF, consuming it. The view
// is valid until the next call on b. A bare LF is errBareLF; a line longer than max is
// errLineTooLong; io.ErrUnexpectedEOF if the conn ends mid-line.
func (b *reader) line(max int) ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(b.buf[b.r+scanned:b.w], '\n'); i >= 0 {
			end := b.r + scanned + i
			if end == b.r || b.buf[end-1] != '\r' {
				return nil, errBareLF
			}
			if end-1-b.r > max {
				return nil, errLineTooLong
			}
			ln := b.buf[b.r : end-1]
			b.r = end + 1
			return ln, nil
		}
		scanned = b.w - b.r
		if scanned > max {
			return nil, errLineTooLong
		}
		// fill may move the unread bytes down to lo; scanned stays relative to r.
		if err := b.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
