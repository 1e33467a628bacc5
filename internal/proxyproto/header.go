package proxyproto

import "net/netip"

// Command says whether a header relays a client connection or was opened by the proxy
// itself (health checks).
type Command uint8

const (
	// CommandLocal: the sender opened the connection on its own behalf; the receiver uses
	// the real connection endpoints (v2 only).
	CommandLocal Command = 0x0
	// CommandProxy: the connection is relayed; Source and Dest describe the original one.
	CommandProxy Command = 0x1
)

// String returns "LOCAL" or "PROXY".
func (c Command) String() string {
	if c == CommandLocal {
		return "LOCAL"
	}
	return "PROXY"
}

// Limits from the spec (doc/proxy-protocol.txt in haproxy/haproxy).
const (
	// MaxV1Length is the longest v1 line including CRLF (section 2.1, "worst case").
	MaxV1Length = 107
	// MaxV2Length bounds the v2 length field (address block plus TLVs) this package
	// accepts. The wire format allows 65535; real senders (HAProxy, AWS NLB, GCP) stay
	// far below 1 KiB, and a tight bound keeps a hostile peer from making us read and
	// discard 64 KiB before the first byte of payload.
	MaxV2Length = 4096
	// v2HeaderLen is the fixed part of a v2 header: signature, ver/cmd, fam, length.
	v2HeaderLen = 16
)

// v2Signature opens every v2 header (section 2.2).
const v2Signature = "\r\n\r\n\x00\r\nQUIT\n"

// v1Prefix opens every v1 header, including the single space after PROXY.
const v1Prefix = "PROXY "

// Header is one parsed PROXY protocol header.
//
// Source and Dest are the original client and the address it connected to. They are
// the zero AddrPort (IsValid false) when the header carries no usable address: a v2
// LOCAL command, a v1 UNKNOWN line, or a v2 UNSPEC or UNIX family. The spec then asks
// the receiver to use the real connection endpoints, which is what Conn does.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Command is CommandProxy for every v1 header.
	Command Command
	Source  netip.AddrPort
	Dest    netip.AddrPort
}
