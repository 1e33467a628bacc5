package l4

import (
	"bufio"
	"fmt"
)

// peekBufSize is the size of the pooled reader used to peek a PROXY header and a
// ClientHello. A ClientHello fits one TLS record (at most 2^14 bytes, RFC 8446
// section 5.1) in practice; a hello fragmented over several records is reassembled
// as long as all of them fit in this buffer.
const peekBufSize = 5 + 1<<14 + 1024

// TLS constants (RFC 8446 sections 4, 4.1.2, 5.1; RFC 6066 section 3).
const (
	recordTypeHandshake    = 0x16
	handshakeClientHello   = 0x01
	extensionServerName    = 0x0000
	serverNameTypeHostName = 0x00
	maxRecordLen           = 1 << 14
	recordHeaderLen        = 5
)

// peekServerName returns the server_name of the TLS ClientHello at the start of br
// without consuming any byte, so the whole handshake can be replayed to the target.
// The returned slice aliases br's buffer and is valid until br is next read.
// It returns errNotTLS when the stream does not start with a handshake record, and
// (nil, nil) for a hello without SNI.
//
// Hand-written rather than crypto/tls: the proxy does not terminate TLS, and running
// a tls.Server over a read-only conn to reach GetConfigForClient costs tens of
// allocations per connection; this parser costs none and is bounded by peekBufSize.
func peekServerName(br *bufio.Reader) ([]byte, error) {
	hdr, err := br.Peek(1)
	if err != nil {
		return nil, err
	}
	if hdr[0] != recordTypeHandshake {
		return nil, errNotTLS
	}
	// Read the handshake message, which may span records: first its 4-byte header,
	// then its body, copying record payloads only when fragmented.
	off := 0           // of the next record header in the peek window
	var msg []byte     // contiguous handshake bytes seen so far
	var scratch []byte // used only for a fragmented hello
	need := 4          // bytes of handshake message needed
	for len(msg) < need {
		rec, err := br.Peek(off + recordHeaderLen)
		if err != nil {
			return nil, peekErr(err)
		}
		h := rec[off:]
		if h[0] != recordTypeHandshake || h[1] != 3 {
			return nil, fmt.Errorf("%w: record type %#x version %d", errBadHello, h[0], h[1])
		}
		n := int(h[3])<<8 | int(h[4])
		if n == 0 || n > maxRecordLen {
			return nil, fmt.Errorf("%w: record length %d", errBadHello, n)
		}
		rec, err = br.Peek(off + recordHeaderLen + n)
		if err != nil {
			return nil, peekErr(err)
		}
		payload := rec[off+recordHeaderLen:]
		if off == 0 {
			msg = payload
		} else {
			if scratch == nil {
				scratch = append(make([]byte, 0, 2*len(msg)), msg...)
			}
			scratch = append(scratch, payload...)
			msg = scratch
		}
		off += recordHeaderLen + n
		if need == 4 && len(msg) >= 4 {
			if msg[0] != handshakeClientHello {
				return nil, fmt.Errorf("%w: handshake type %#x", errBadHello, msg[0])
			}
			need = 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if need > peekBufSize {
				return nil, fmt.Errorf("%w: hello length %d", errBadHello, need)
			}
		}
	}
	return serverName(msg[4:need])
}

// peekErr maps a full buffer (a hello larger than we accept) to errBadHello and keeps
// I/O errors (EOF, deadline) as they are.
func peekErr(err error) error {
	if err == bufio.ErrBufferFull {
		return fmt.Errorf("%w: larger than %d bytes", errBadHello, peekBufSize)
	}
	return err
}

// serverName extracts the host_name from a ClientHello body (RFC 8446 section 4.1.2,
// RFC 6066 section 3). Every length is checked against what remains.
func serverName(b []byte) ([]byte, error) {
	c := cursor{b: b}
	c.skip(2 + 32)  // legacy_version, random
	c.skip(c.u8())  // legacy_session_id
	c.skip(c.u16()) // cipher_suites
	c.skip(c.u8())  // legacy_compression_methods
	if c.bad {
		return nil, fmt.Errorf("%w: truncated body", errBadHello)
	}
	if len(c.b) == 0 {
		return nil, nil // TLS 1.2 allows a hello without extensions
	}
	exts := cursor{b: c.bytes(c.u16())}
	for len(exts.b) > 0 && !exts.bad {
		typ := exts.u16()
		data := exts.bytes(exts.u16())
		if exts.bad || typ != extensionServerName {
			continue
		}
		list := cursor{b: data}
		names := cursor{b: list.bytes(list.u16())}
		for len(names.b) > 0 && !names.bad {
			nameType := names.u8()
			name := names.bytes(names.u16())
			if !names.bad && nameType == serverNameTypeHostName {
				return name, nil
			}
		}
		return nil, fmt.Errorf("%w: server_name without host_name", errBadHello)
	}
	if c.bad || exts.bad {
		return nil, fmt.Errorf("%w: truncated extensions", errBadHello)
	}
	return nil, nil
}

// cursor reads big-endian fields; once a read overruns, bad is set and every later
// read yields zero values, so callers check bad once after a group of reads.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) skip(n int) { c.bytes(n) }

func (c *cursor) bytes(n int) []byte {
	if c.bad || n > len(c.b) {
		c.bad = true
		return nil
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) u8() int {
	v := c.bytes(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (c *cursor) u16() int {
	v := c.bytes(2)
	if v == nil {
		return 0
	}
	return int(v[0])<<8 | int(v[1])
}
