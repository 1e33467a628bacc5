package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// family reduces a source/destination pair to one address family: both IPv4
// (IPv4-mapped IPv6 is unmapped first) or both IPv6 (a lone IPv4 side is mapped).
// ok is false when either side is missing.
func family(src, dst netip.AddrPort) (s, d netip.AddrPort, v4, ok bool) {
	if !src.IsValid() || !dst.IsValid() {
		return src, dst, false, false
	}
	sa, da := src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	if sa.Is4() && da.Is4() {
		return netip.AddrPortFrom(sa, src.Port()), netip.AddrPortFrom(da, dst.Port()), true, true
	}
	sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	return netip.AddrPortFrom(sa, src.Port()), netip.AddrPortFrom(da, dst.Port()), false, true
}

// AppendV1 appends a v1 header line for a TCP connection from src to dst and returns
// the extended slice. When either address is invalid it appends "PROXY UNKNOWN\r\n";
// mixed families are sent as TCP6 with the IPv4 side mapped.
func AppendV1(b []byte, src, dst netip.AddrPort) []byte {
	s, d, v4, ok := family(src, dst)
	if !ok {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	if v4 {
		b = append(b, "PROXY TCP4 "...)
	} else {
		b = append(b, "PROXY TCP6 "...)
	}
	b = appendV1Addr(b, s.Addr())
	b = append(b, ' ')
	b = appendV1Addr(b, d.Addr())
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(s.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(d.Port()), 10)
	return append(b, "\r\n"...)
}

// appendV1Addr writes a in the spec's canonical form: the dotted-quad notation Go
// uses for IPv4-mapped IPv6 is not one of the spec's IPv6 forms, so those are
// written fully expanded.
func appendV1Addr(b []byte, a netip.Addr) []byte {
	if a.Is4In6() {
		return append(b, a.StringExpanded()...)
	}
	return a.AppendTo(b)
}

// AppendV2 appends a v2 PROXY header (TCP over IPv4 or IPv6) for a connection from
// src to dst and returns the extended slice. When either address is invalid it sends
// the PROXY command with the UNSPEC family and no address, so the receiver uses the
// real endpoints. Mixed families are sent as IPv6 with the IPv4 side mapped.
func AppendV2(b []byte, src, dst netip.AddrPort) []byte {
	b = append(b, v2Signature...)
	b = append(b, 0x20|byte(CommandProxy))
	s, d, v4, ok := family(src, dst)
	switch {
	case !ok:
		return append(b, 0x00, 0, 0)
	case v4:
		b = append(b, 0x11, 0, lenInet)
		sa, da := s.Addr().As4(), d.Addr().As4()
		b = append(b, sa[:]...)
		b = append(b, da[:]...)
	default:
		b = append(b, 0x21, 0, lenInet6)
		sa, da := s.Addr().As16(), d.Addr().As16()
		b = append(b, sa[:]...)
		b = append(b, da[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, s.Port())
	return binary.BigEndian.AppendUint16(b, d.Port())
}

// AppendV2Local appends a v2 LOCAL header, for connections the gateway opens on its
// own behalf (health checks) to targets that require a PROXY header.
func AppendV2Local(b []byte) []byte {
	b = append(b, v2Signature...)
	return append(b, 0x20|byte(CommandLocal), 0x00, 0, 0)
}
