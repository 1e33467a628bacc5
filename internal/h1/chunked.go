package h1

import (
	"io"
)

// Chunked decoder states.
const (
	csSize = iota
	csData
	csDataEnd
	csTrailer
	csDone
)

// chunkedReader decodes a chunked body (RFC 9112 section 7.1) strictly: chunk-size is
// 1*HEXDIG, extensions are bounded and dropped, every line ends in CRLF, trailer fields
// are validated like header fields. The engine re-frames what it decodes and never
// forwards the received framing, so a framing quirk cannot reach a backend.
type chunkedReader struct {
	br    *reader
	left  int64
	state uint8
	// trailer holds validated trailer lines, each ending in CRLF, minus fields that
	// must not appear in trailers (framing, routing, hop-by-hop).
	trailer  []byte
	ntrailer int
}

func (cr *chunkedReader) reset(br *reader) {
	t := cr.trailer[:0]
	*cr = chunkedReader{br: br, trailer: t}
}

// done reports whether the terminating chunk and trailer section were read.
func (cr *chunkedReader) done() bool { return cr.state == csDone }

// Read returns decoded body bytes, io.EOF once the body ended. A framing violation is
// errBadChunk or errBadTrailer; a connection that ends early is io.ErrUnexpectedEOF.
func (cr *chunkedReader) Read(p []byte) (int, error) {
	if err := cr.advance(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > cr.left {
		p = p[:cr.left]
	}
	n, err := cr.br.read(p)
	if err != nil {
		return 0, chunkErr(err)
	}
	if cr.left -= int64(n); cr.left == 0 {
		cr.state = csDataEnd
	}
	return n, nil
}

// next is Read without a copy: it returns the next decoded body bytes as a view into
// the reader's buffer, valid until the next call on the reader, and io.EOF once the
// body ended. Errors are Read's.
func (cr *chunkedReader) next() ([]byte, error) {
	if err := cr.advance(); err != nil {
		return nil, err
	}
	b := cr.br
	if b.r == b.w {
		if err := b.fill(); err != nil {
			return nil, chunkErr(err)
		}
	}
	k := b.w - b.r
	if int64(k) > cr.left {
		k = int(cr.left)
	}
	v := b.buf[b.r : b.r+k]
	b.r += k
	if cr.left -= int64(k); cr.left == 0 {
		cr.state = csDataEnd
	}
	return v, nil
}

// advance reads framing (chunk-size lines, the CRLF after data, trailers) until body
// bytes are due (state csData) or the body ended (io.EOF).
func (cr *chunkedReader) advance() error {
	for {
		switch cr.state {
		case csData:
			return nil
		case csSize:
			line, err := cr.br.line(maxChunkLine)
			if err != nil {
				return chunkErr(err)
			}
			n, ok := parseChunkSize(line)
			if !ok {
				return errBadChunk
			}
			if n == 0 {
				cr.state = csTrailer
				continue
			}
			cr.left, cr.state = n, csData
		case csDataEnd:
			line, err := cr.br.line(2)
			if err != nil {
				return chunkErr(err)
			}
			if len(line) != 0 {
				return errBadChunk
			}
			cr.state = csSize
		case csTrailer:
			line, err := cr.br.line(maxTrailerBytes)
			if err != nil {
				if err == errLineTooLong || err == errBareLF {
					return errBadTrailer
				}
				return chunkErr(err)
			}
			if len(line) == 0 {
				cr.state = csDone
				return io.EOF
			}
			f, ok := parseField(line)
			if !ok {
				return errBadTrailer
			}
			if cr.ntrailer++; cr.ntrailer > maxTrailerCount || len(cr.trailer)+len(line) > maxTrailerBytes {
				return errBadTrailer
			}
			if !forbiddenTrailer(f.name) {
				cr.trailer = append(cr.trailer, f.name...)
				cr.trailer = append(cr.trailer, ": "...)
				cr.trailer = append(cr.trailer, f.value...)
				cr.trailer = append(cr.trailer, "\r\n"...)
			}
		default:
			return io.EOF
		}
	}
}

func chunkErr(err error) error {
	switch err {
	case errBareLF, errLineTooLong, errBufferFull:
		return errBadChunk
	case io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseChunkSize parses chunk-size [chunk-ext]. Whitespace before ';' (BWS) is rejected
// although the grammar allows it: parsers disagree on it, and clients do not send it.
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line) && isHex(line[i]); i++ {
		if i == 15 { // > 2^60: no real chunk is that big; keeps n from overflowing
			return 0, false
		}
		n = n<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		return 0, false
	}
	if i == len(line) {
		return n, true
	}
	if line[i] != ';' || !validValue(line[i+1:]) {
		return 0, false
	}
	return n, true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// forbiddenTrailer lists fields dropped from trailers (RFC 9110 section 6.5.1: framing,
// routing, authentication and hop-by-hop fields do not belong there).
func forbiddenTrailer(name []byte) bool {
	switch {
	case isHopByHop(name),
		equalFold(name, "content-length"),
		equalFold(name, "host"),
		equalFold(name, "authorization"),
		equalFold(name, "set-cookie"),
		equalFold(name, "content-type"),
		equalFold(name, "content-encoding"):
		return true
	}
	return false
}

// isHopByHop reports the fields that are hop-by-hop by definition (RFC 9110 section
// 7.6.1, plus the historical Keep-Alive and Proxy-Connection); fields named in a
// message's Connection header are hop-by-hop as well and checked separately.
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return equalFold(name, "te")
	case 7:
		return equalFold(name, "trailer") || equalFold(name, "upgrade")
	case 10:
		return equalFold(name, "connection") || equalFold(name, "keep-alive")
	case 16:
		return equalFold(name, "proxy-connection")
	case 17:
		return equalFold(name, "transfer-encoding")
	case 18:
		return equalFold(name, "proxy-authenticate")
	case 19:
		return equalFold(name, "proxy-authorization")
	}
	return false
}
