package proxyproto

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"time"
)

// DefaultTimeout bounds reading a header when NewListener is given 0. The spec asks
// for at least 3 seconds "to cover a TCP retransmit".
const DefaultTimeout = 5 * time.Second

// NewListener wraps ln so that every accepted connection must start with a PROXY v1
// or v2 header, and reports the header's addresses as its RemoteAddr and LocalAddr.
//
// The header is read lazily, in the goroutine that first calls Read, RemoteAddr or
// LocalAddr on the Conn (net/http does so in the connection's own goroutine), never in
// Accept: one slow or silent client therefore cannot hold up Accept for the others.
// timeout bounds the header read (DefaultTimeout when 0). A connection whose header is
// missing or malformed fails its first Read with the ReadHeader error; callers close it.
func NewListener(ln net.Listener, timeout time.Duration) net.Listener {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &listener{Listener: ln, timeout: timeout}
}

type listener struct {
	net.Listener
	timeout time.Duration
}

// Accept returns the next connection wrapped in a *Conn without reading from it.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c, timeout: l.timeout}, nil
}

// Conn is a connection accepted by a NewListener listener. Its methods are safe for
// concurrent use as net.Conn's are; the header is read exactly once.
type Conn struct {
	net.Conn
	timeout time.Duration

	once   sync.Once
	br     *bufio.Reader
	header Header
	err    error

	// mu guards the deadline the user set, so the header read can apply its own bound
	// and then restore the user's (net/http sets its read deadline before the first Read).
	mu           sync.Mutex
	userDeadline time.Time
}

// readHeader reads the header once, bounded by timeout and by any earlier read
// deadline the user set.
func (c *Conn) readHeader() {
	c.once.Do(func() {
		c.mu.Lock()
		user := c.userDeadline
		c.mu.Unlock()
		d := time.Now().Add(c.timeout)
		if !user.IsZero() && user.Before(d) {
			d = user
		}
		if err := c.Conn.SetReadDeadline(d); err != nil {
			c.err = fmt.Errorf("read proxy header: %w", err)
			return
		}
		// 256 bytes fits any v1 line and common v2 headers; longer v2 TLVs are read
		// through the buffer. The reader is dropped once its buffered payload is consumed.
		c.br = bufio.NewReaderSize(c.Conn, 256)
		c.header, c.err = ReadHeader(c.br)
		if c.err != nil {
			c.err = fmt.Errorf("read proxy header: %w", c.err)
		}
		c.mu.Lock()
		user = c.userDeadline
		c.mu.Unlock()
		if err := c.Conn.SetReadDeadline(user); err != nil && c.err == nil {
			c.err = fmt.Errorf("read proxy header: %w", err)
		}
	})
}

// Header returns the parsed header, reading it first if needed.
func (c *Conn) Header() (Header, error) {
	c.readHeader()
	return c.header, c.err
}

// Read reads payload after the header. Bytes buffered while parsing are returned
// first; afterwards reads go straight to the underlying connection.
func (c *Conn) Read(p []byte) (int, error) {
	c.readHeader()
	if c.err != nil {
		return 0, c.err
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil // Read is not called concurrently with itself, as for net.Conn.
	}
	return c.Conn.Read(p)
}

// RemoteAddr returns the header's source address, or the real peer when the header
// carries none (LOCAL, UNKNOWN) or could not be read.
func (c *Conn) RemoteAddr() net.Addr {
	c.readHeader()
	if c.err == nil && c.header.Source.IsValid() {
		return net.TCPAddrFromAddrPort(c.header.Source)
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr returns the header's destination address, or the real local address when
// the header carries none.
func (c *Conn) LocalAddr() net.Addr {
	c.readHeader()
	if c.err == nil && c.header.Dest.IsValid() {
		return net.TCPAddrFromAddrPort(c.header.Dest)
	}
	return c.Conn.LocalAddr()
}

// SetDeadline sets both deadlines; the read half is remembered so the header read
// cannot extend or erase it.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.userDeadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline, remembered as for SetDeadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.userDeadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// NetConn returns the underlying connection. Bytes already buffered past the header
// are not visible through it; use it for socket options, not for reading.
func (c *Conn) NetConn() net.Conn { return c.Conn }
