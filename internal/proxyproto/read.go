package proxyproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// ReadHeader reads one PROXY protocol header (v1 or v2) from the start of r and
// consumes exactly its bytes, leaving the payload that follows in r.
//
// It fails fast: the first byte that cannot start or continue a valid header ends the
// read with ErrNoHeader or a format error, so a client that is not a proxy is noticed
// without waiting for more input. Reads are bounded (MaxV1Length, MaxV2Length); the
// caller bounds time with a read deadline on the underlying connection. v2 TLVs are
// skipped unread, v2 UNIX addresses are parsed for length only.
//
// Hand-written rather than a library: the parser sits on the accept path of every
// connection, the format is small, and the limits and error vocabulary are ours.
func ReadHeader(r *bufio.Reader) (Header, error) {
	first, err := r.Peek(1)
	if err != nil {
		return Header{}, truncated(err)
	}
	switch first[0] {
	case v1Prefix[0]:
		return readV1(r)
	case v2Signature[0]:
		return readV2(r)
	}
	return Header{}, ErrNoHeader
}

// truncated wraps an I/O error met inside a header, keeping the cause.
func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrTruncated, err)
}

// readV1 reads the text form (section 2.1): "PROXY TCP4 a b p q\r\n".
func readV1(r *bufio.Reader) (Header, error) {
	var buf [MaxV1Length]byte
	n := 0
	for {
		if n == len(buf) {
			return Header{}, ErrLineTooLong
		}
		c, err := r.ReadByte()
		if err != nil {
			return Header{}, truncated(err)
		}
		// Compare the prefix byte by byte so "POST /" fails on its second byte
		// instead of waiting for a CRLF that may never come.
		if n < len(v1Prefix) && c != v1Prefix[n] {
			if n == 0 {
				return Header{}, ErrNoHeader
			}
			return Header{}, fmt.Errorf("%w: bad signature", ErrNoHeader)
		}
		buf[n] = c
		n++
		if c == '\n' {
			break
		}
	}
	line := buf[:n]
	// "The receiver must not tolerate a single CR or LF character to end the line."
	if n < 2 || line[n-2] != '\r' {
		return Header{}, fmt.Errorf("%w: line not ended by CRLF", ErrMalformedV1)
	}
	return parseV1(line[len(v1Prefix) : n-2])
}

// parseV1 parses the part of a v1 line between "PROXY " and CRLF.
func parseV1(b []byte) (Header, error) {
	h := Header{Version: 1, Command: CommandProxy}
	for _, c := range b {
		if c == '\r' || c == '\n' {
			return h, fmt.Errorf("%w: stray CR or LF", ErrMalformedV1)
		}
	}
	proto, rest, _ := cut(b)
	switch string(proto) {
	case "UNKNOWN":
		// "the receiver must ignore anything presented before the CRLF is found".
		return h, nil
	case "TCP4", "TCP6":
	default:
		return h, fmt.Errorf("%w: unknown protocol %q", ErrMalformedV1, proto)
	}
	want4 := proto[3] == '4'
	var fields [4][]byte
	for i := range fields {
		var ok bool
		fields[i], rest, ok = cut(rest)
		// Every field but the last is followed by exactly one space; the last by CRLF.
		if last := i == len(fields)-1; ok == last {
			return h, fmt.Errorf("%w: want 4 fields after %s", ErrMalformedV1, proto)
		}
	}
	src, err := parseV1Addr(fields[0], want4)
	if err != nil {
		return h, err
	}
	dst, err := parseV1Addr(fields[1], want4)
	if err != nil {
		return h, err
	}
	sport, err := parsePort(fields[2])
	if err != nil {
		return h, err
	}
	dport, err := parsePort(fields[3])
	if err != nil {
		return h, err
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Dest = netip.AddrPortFrom(dst, dport)
	return h, nil
}

// cut splits b at the first space. ok is false when there is none; the spec allows
// exactly one space between fields, so an empty field is reported by the callers'
// parsers rejecting "".
func cut(b []byte) (field, rest []byte, ok bool) {
	for i, c := range b {
		if c == ' ' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// parseV1Addr parses a canonical address of the announced family. netip already
// rejects leading zeros in IPv4 (the spec forbids them against octal confusion).
func parseV1Addr(b []byte, want4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: bad address %q", ErrMalformedV1, b)
	}
	if a.Zone() != "" || a.Is4() != want4 {
		return netip.Addr{}, fmt.Errorf("%w: address %q does not match family", ErrMalformedV1, b)
	}
	return a, nil
}

// parsePort parses a decimal port in [0, 65535] without leading zeros.
func parsePort(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, fmt.Errorf("%w: bad port %q", ErrMalformedV1, b)
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: bad port %q", ErrMalformedV1, b)
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("%w: bad port %q", ErrMalformedV1, b)
	}
	return uint16(n), nil
}

// Address block sizes by family (section 2.2).
const (
	lenInet  = 2*4 + 2*2
	lenInet6 = 2*16 + 2*2
	lenUnix  = 2 * 108
)

// readV2 reads the binary form (section 2.2).
func readV2(r *bufio.Reader) (Header, error) {
	var fixed [v2HeaderLen]byte
	// Check the signature as bytes arrive, like v1, so a stray CR fails early.
	for i := range fixed {
		c, err := r.ReadByte()
		if err != nil {
			return Header{}, truncated(err)
		}
		if i < len(v2Signature) && c != v2Signature[i] {
			return Header{}, fmt.Errorf("%w: bad signature", ErrNoHeader)
		}
		fixed[i] = c
	}
	h := Header{Version: 2}
	if v := fixed[12] >> 4; v != 2 {
		return h, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	switch cmd := Command(fixed[12] & 0x0f); cmd {
	case CommandLocal, CommandProxy:
		h.Command = cmd
	default:
		return h, fmt.Errorf("%w: %#x", ErrCommand, uint8(cmd))
	}
	family, transport := fixed[13]>>4, fixed[13]&0x0f
	length := int(binary.BigEndian.Uint16(fixed[14:]))
	if length > MaxV2Length {
		return h, fmt.Errorf("%w: %d above %d", ErrLength, length, MaxV2Length)
	}
	if transport > 2 {
		return h, fmt.Errorf("%w: transport %#x", ErrFamily, transport)
	}
	need := 0
	switch family {
	case 0x0: // AF_UNSPEC: no address to read.
	case 0x1:
		need = lenInet
	case 0x2:
		need = lenInet6
	case 0x3:
		need = lenUnix
	default:
		return h, fmt.Errorf("%w: family %#x", ErrFamily, family)
	}
	if transport == 0 {
		// UNSPEC transport: "the receiver should ignore address information".
		need = 0
	}
	// LOCAL: "discard the protocol block including the family", but still skip the
	// announced length ("must not assume zero is presented for LOCAL connections").
	if h.Command == CommandLocal {
		need = 0
	}
	if length < need {
		return h, fmt.Errorf("%w: %d shorter than the %d-byte address block", ErrLength, length, need)
	}
	var addr [lenUnix]byte
	if _, err := io.ReadFull(r, addr[:need]); err != nil {
		return h, truncated(err)
	}
	switch need {
	case lenInet:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[0:4])), binary.BigEndian.Uint16(addr[8:]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[4:8])), binary.BigEndian.Uint16(addr[10:]))
	case lenInet6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[0:16])), binary.BigEndian.Uint16(addr[32:]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[16:32])), binary.BigEndian.Uint16(addr[34:]))
	}
	// TLVs (and a UNIX block's slack) are skipped: nothing in the gateway consumes them.
	if _, err := r.Discard(length - need); err != nil {
		return h, truncated(err)
	}
	return h, nil
}
