package proxyproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a v2 header from its parts, so table cases read like the spec's layout.
func v2(verCmd, fam byte, body ...[]byte) string {
	var payload []byte
	for _, b := range body {
		payload = append(payload, b...)
	}
	b := []byte(v2Signature)
	b = append(b, verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return string(append(b, payload...))
}

// v2Len builds a v2 header whose length field is given explicitly.
func v2Len(verCmd, fam byte, length uint16, body []byte) string {
	b := []byte(v2Signature)
	b = append(b, verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, length)
	return string(append(b, body...))
}

func bytesOf(n int, v byte) []byte { return []byte(strings.Repeat(string(v), n)) }

var (
	inet4Block = []byte{192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb} // 56324 → 443
	inet6Block = append(append(append(
		netip.MustParseAddr("2001:db8::1").AsSlice(),
		netip.MustParseAddr("2001:db8::2").AsSlice()...),
		0x30, 0x39), 0x00, 0x50) // 12345 → 80
	tlvs = []byte{0x04, 0x00, 0x02, 'x', 'x', 0x02, 0x00, 0x03, 'a', '.', 'b'} // NOOP, AUTHORITY
)

func TestReadHeader(t *testing.T) {
	t.Parallel()
	src4 := netip.MustParseAddrPort("192.168.0.1:56324")
	dst4 := netip.MustParseAddrPort("192.168.0.11:443")
	src6 := netip.MustParseAddrPort("[2001:db8::1]:12345")
	dst6 := netip.MustParseAddrPort("[2001:db8::2]:80")
	tests := []struct {
		name    string
		in      string
		want    Header
		wantErr error
	}{
		// v1, section 2.1.
		{name: "v1 tcp4 spec example", in: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /",
			want: Header{Version: 1, Command: CommandProxy, Source: src4, Dest: dst4}},
		{name: "v1 tcp6", in: "PROXY TCP6 2001:db8::1 2001:db8::2 12345 80\r\n",
			want: Header{Version: 1, Command: CommandProxy, Source: src6, Dest: dst6}},
		{name: "v1 tcp6 expanded upper case", in: "PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 2001:db8::2 12345 80\r\n",
			want: Header{Version: 1, Command: CommandProxy, Source: src6, Dest: dst6}},
		{name: "v1 unknown short", in: "PROXY UNKNOWN\r\n", want: Header{Version: 1, Command: CommandProxy}},
		{name: "v1 unknown worst case 107 bytes",
			in:   "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			want: Header{Version: 1, Command: CommandProxy}},
		{name: "v1 ports at bounds", in: "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n",
			want: Header{Version: 1, Command: CommandProxy,
				Source: netip.MustParseAddrPort("1.2.3.4:0"), Dest: netip.MustParseAddrPort("5.6.7.8:65535")}},
		{name: "v1 line too long", in: "PROXY UNKNOWN " + strings.Repeat("a", 100) + "\r\n", wantErr: ErrLineTooLong},
		{name: "v1 lone LF", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", wantErr: ErrMalformedV1},
		{name: "v1 stray CR", in: "PROXY UNKNOWN a\rb\r\n", wantErr: ErrMalformedV1},
		{name: "v1 double space", in: "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 trailing space", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", wantErr: ErrMalformedV1},
		{name: "v1 missing port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", wantErr: ErrMalformedV1},
		{name: "v1 leading zero port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 port too big", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 leading zero ipv4", in: "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 family mismatch", in: "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 ipv4 in tcp6", in: "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 zone", in: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 unknown protocol", in: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", wantErr: ErrMalformedV1},
		{name: "v1 truncated", in: "PROXY TCP4 1.2.3.4", wantErr: ErrTruncated},
		{name: "not proxy http", in: "GET / HTTP/1.1\r\n", wantErr: ErrNoHeader},
		{name: "not proxy early mismatch", in: "POST / HTTP/1.1\r\n", wantErr: ErrNoHeader},
		{name: "lower case proxy", in: "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", wantErr: ErrNoHeader},
		{name: "empty", in: "", wantErr: ErrTruncated},

		// v2, section 2.2.
		{name: "v2 tcp4", in: v2(0x21, 0x11, inet4Block) + "payload",
			want: Header{Version: 2, Command: CommandProxy, Source: src4, Dest: dst4}},
		{name: "v2 udp4", in: v2(0x21, 0x12, inet4Block),
			want: Header{Version: 2, Command: CommandProxy, Source: src4, Dest: dst4}},
		{name: "v2 tcp6", in: v2(0x21, 0x21, inet6Block),
			want: Header{Version: 2, Command: CommandProxy, Source: src6, Dest: dst6}},
		{name: "v2 tcp4 with tlvs skipped", in: v2(0x21, 0x11, inet4Block, tlvs),
			want: Header{Version: 2, Command: CommandProxy, Source: src4, Dest: dst4}},
		{name: "v2 unix parsed and ignored", in: v2(0x21, 0x31, bytesOf(lenUnix, 'u')),
			want: Header{Version: 2, Command: CommandProxy}},
		{name: "v2 local with family skipped", in: v2(0x20, 0x11, inet4Block),
			want: Header{Version: 2, Command: CommandLocal}},
		{name: "v2 local empty", in: v2(0x20, 0x00), want: Header{Version: 2, Command: CommandLocal}},
		{name: "v2 unspec with bytes", in: v2(0x21, 0x00, []byte{1, 2, 3}),
			want: Header{Version: 2, Command: CommandProxy}},
		{name: "v2 version 1", in: v2(0x11, 0x11, inet4Block), wantErr: ErrVersion},
		{name: "v2 version 3", in: v2(0x31, 0x11, inet4Block), wantErr: ErrVersion},
		{name: "v2 command 2", in: v2(0x22, 0x11, inet4Block), wantErr: ErrCommand},
		{name: "v2 family 4", in: v2(0x21, 0x41, inet4Block), wantErr: ErrFamily},
		{name: "v2 transport 3", in: v2(0x21, 0x13, inet4Block), wantErr: ErrFamily},
		{name: "v2 length short for inet", in: v2(0x21, 0x11, inet4Block[:11]), wantErr: ErrLength},
		{name: "v2 length short for inet6", in: v2(0x21, 0x21, inet4Block), wantErr: ErrLength},
		{name: "v2 length above bound", in: v2Len(0x21, 0x11, MaxV2Length+1, inet4Block), wantErr: ErrLength},
		{name: "v2 truncated address", in: v2Len(0x21, 0x11, lenInet, inet4Block[:5]), wantErr: ErrTruncated},
		{name: "v2 truncated tlvs", in: v2Len(0x21, 0x11, lenInet+10, inet4Block), wantErr: ErrTruncated},
		{name: "v2 truncated fixed part", in: v2(0x21, 0x11, inet4Block)[:14], wantErr: ErrTruncated},
		{name: "v2 bad signature", in: "\r\n\r\nX", wantErr: ErrNoHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			got, err := ReadHeader(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadHeader() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadHeader() error = %v, want nil", err)
			}
			if got != tt.want {
				t.Fatalf("ReadHeader() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadHeaderLeavesPayload checks that exactly the header is consumed.
func TestReadHeaderLeavesPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{name: "v1", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{name: "v2 with tlvs", in: v2(0x21, 0x11, inet4Block, tlvs)},
		{name: "v2 local", in: v2(0x20, 0x00, []byte{9, 9})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReaderSize(strings.NewReader(tt.in+"\r\n\x00rest"), 16)
			if _, err := ReadHeader(r); err != nil {
				t.Fatalf("ReadHeader() error = %v", err)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != "\r\n\x00rest" {
				t.Fatalf("payload after header = %q, want %q", rest, "\r\n\x00rest")
			}
		})
	}
}

func TestAppendRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src, dst string
		wantV1   string
		wantSrc  string // expected parsed Source ("" = invalid)
	}{
		{name: "ipv4", src: "10.0.0.1:1234", dst: "10.0.0.2:443",
			wantV1: "PROXY TCP4 10.0.0.1 10.0.0.2 1234 443\r\n", wantSrc: "10.0.0.1:1234"},
		{name: "ipv6", src: "[2001:db8::1]:1", dst: "[::1]:2",
			wantV1: "PROXY TCP6 2001:db8::1 ::1 1 2\r\n", wantSrc: "[2001:db8::1]:1"},
		{name: "ipv4-mapped unmapped", src: "[::ffff:10.0.0.1]:5", dst: "10.0.0.2:6",
			wantV1: "PROXY TCP4 10.0.0.1 10.0.0.2 5 6\r\n", wantSrc: "10.0.0.1:5"},
		{name: "mixed families mapped", src: "10.0.0.1:5", dst: "[::1]:6",
			wantV1:  "PROXY TCP6 0000:0000:0000:0000:0000:ffff:0a00:0001 ::1 5 6\r\n",
			wantSrc: "[::ffff:10.0.0.1]:5"},
		{name: "unknown", src: "", dst: "10.0.0.2:6", wantV1: "PROXY UNKNOWN\r\n"},
	}
	parse := func(s string) netip.AddrPort {
		if s == "" {
			return netip.AddrPort{}
		}
		return netip.MustParseAddrPort(s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, dst := parse(tt.src), parse(tt.dst)
			v1 := AppendV1(nil, src, dst)
			if string(v1) != tt.wantV1 {
				t.Fatalf("AppendV1() = %q, want %q", v1, tt.wantV1)
			}
			for _, wire := range [][]byte{v1, AppendV2(nil, src, dst)} {
				h, err := ReadHeader(bufio.NewReader(strings.NewReader(string(wire))))
				if err != nil {
					t.Fatalf("ReadHeader(%q) error = %v", wire, err)
				}
				if got, want := h.Source, parse(tt.wantSrc); got != want {
					t.Fatalf("ReadHeader(%q).Source = %v, want %v", wire, got, want)
				}
			}
		})
	}
	h, err := ReadHeader(bufio.NewReader(strings.NewReader(string(AppendV2Local(nil)))))
	if err != nil || h.Command != CommandLocal || h.Source.IsValid() {
		t.Fatalf("ReadHeader(AppendV2Local) = %+v, %v, want LOCAL without address", h, err)
	}
}

func TestAppendAllocs(t *testing.T) {
	src, dst := netip.MustParseAddrPort("10.0.0.1:1234"), netip.MustParseAddrPort("10.0.0.2:443")
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { buf = AppendV1(buf[:0], src, dst) }); n != 0 {
		t.Errorf("AppendV1 allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendV2(buf[:0], src, dst) }); n != 0 {
		t.Errorf("AppendV2 allocs = %v, want 0", n)
	}
}

func FuzzReadHeader(f *testing.F) {
	seeds := []string{
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP6 2001:db8::1 2001:db8::2 12345 80\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		v2(0x21, 0x11, inet4Block),
		v2(0x21, 0x21, inet6Block, tlvs),
		v2(0x20, 0x00),
		v2(0x21, 0x31, bytesOf(lenUnix, 0)),
		v2Len(0x21, 0x11, 0xffff, inet4Block),
		"GET / HTTP/1.1\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sr := strings.NewReader(string(in))
		r := bufio.NewReaderSize(sr, 16)
		h, err := ReadHeader(r)
		consumed := len(in) - sr.Len() - r.Buffered()
		if err != nil {
			return
		}
		// Invariants of a successful parse.
		switch h.Version {
		case 1:
			if consumed > MaxV1Length {
				t.Fatalf("v1 header consumed %d bytes, above %d", consumed, MaxV1Length)
			}
		case 2:
			if consumed > v2HeaderLen+MaxV2Length {
				t.Fatalf("v2 header consumed %d bytes, above %d", consumed, v2HeaderLen+MaxV2Length)
			}
		default:
			t.Fatalf("Version = %d, want 1 or 2", h.Version)
		}
		if h.Source.IsValid() != h.Dest.IsValid() {
			t.Fatalf("Source %v and Dest %v disagree on validity", h.Source, h.Dest)
		}
		// What parsed must re-encode to a header that parses to the same addresses.
		if h.Source.IsValid() {
			for _, wire := range [][]byte{AppendV1(nil, h.Source, h.Dest), AppendV2(nil, h.Source, h.Dest)} {
				h2, err := ReadHeader(bufio.NewReader(strings.NewReader(string(wire))))
				if err != nil {
					t.Fatalf("re-read %q: %v", wire, err)
				}
				if h2.Source.Addr().Unmap() != h.Source.Addr().Unmap() || h2.Source.Port() != h.Source.Port() {
					t.Fatalf("round trip Source = %v, want %v", h2.Source, h.Source)
				}
			}
		}
	})
}

func addrPortOf(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}
