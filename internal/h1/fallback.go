package h1

import (
	"errors"
	"net"
)

// replayConn is what Options.Fallback receives: the client connection with the bytes
// the engine already read put back in front, so net/http parses the request (or the
// h2c preface) from its first byte.
type replayConn struct {
	net.Conn
	buf []byte
}

// Read returns the replayed bytes first, then reads the socket.
func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// CloseWrite half-closes when the underlying conn can; net/http uses it to avoid
// resetting a connection it closes with unread input.
func (r *replayConn) CloseWrite() error {
	if cw, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported // the peer will not see EOF: callers must not count on it
}

// NetConn returns the wrapped connection (the name crypto/tls uses for the same idea).
func (r *replayConn) NetConn() net.Conn { return r.Conn }
