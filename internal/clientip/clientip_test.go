package clientip

import (
	"net/netip"
	"testing"
)

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestClient(t *testing.T) {
	t.Parallel()
	r := New(prefixes(t, "10.0.0.0/8", "2001:db8:ffff::/48"))
	tests := []struct {
		name string
		peer string
		xff  string
		want string
	}{
		{name: "untrusted peer, no xff", peer: "192.0.2.1:5000", want: "192.0.2.1"},
		{name: "untrusted peer spoofs xff", peer: "192.0.2.1:5000", xff: "1.2.3.4", want: "192.0.2.1"},
		{name: "untrusted peer spoofs trusted-looking xff", peer: "192.0.2.1:5000", xff: "10.0.0.1", want: "192.0.2.1"},
		{name: "trusted peer, one hop", peer: "10.0.0.2:5000", xff: "198.51.100.7", want: "198.51.100.7"},
		{name: "trusted peer, no xff", peer: "10.0.0.2:5000", want: "10.0.0.2"},
		{name: "client prepends a fake entry", peer: "10.0.0.2:5000", xff: "1.1.1.1, 198.51.100.7", want: "198.51.100.7"},
		{name: "two trusted hops", peer: "10.0.0.2:5000", xff: "198.51.100.7, 10.9.9.9", want: "198.51.100.7"},
		{name: "fake trusted entry left of real client", peer: "10.0.0.2:5000", xff: "10.1.1.1, 198.51.100.7, 10.9.9.9", want: "198.51.100.7"},
		{name: "all hops trusted gives left-most", peer: "10.0.0.2:5000", xff: "10.1.1.1, 10.9.9.9", want: "10.1.1.1"},
		{name: "garbage entry stops the walk", peer: "10.0.0.2:5000", xff: "198.51.100.7, not-an-ip", want: "10.0.0.2"},
		{name: "garbage left of the client is ignored", peer: "10.0.0.2:5000", xff: "junk, 198.51.100.7", want: "198.51.100.7"},
		{name: "entry with port", peer: "10.0.0.2:5000", xff: "198.51.100.7:4711", want: "198.51.100.7"},
		{name: "ipv6 entry with port", peer: "10.0.0.2:5000", xff: "[2001:db8::5]:4711", want: "2001:db8::5"},
		{name: "ipv4-mapped peer is unmapped", peer: "[::ffff:10.0.0.2]:5000", xff: "198.51.100.7", want: "198.51.100.7"},
		{name: "ipv4-mapped untrusted peer reported unmapped", peer: "[::ffff:192.0.2.1]:5000", xff: "1.2.3.4", want: "192.0.2.1"},
		{name: "ipv4-mapped xff entry unmapped", peer: "10.0.0.2:5000", xff: "::ffff:198.51.100.7", want: "198.51.100.7"},
		{name: "ipv6 trusted peer", peer: "[2001:db8:ffff::1]:443", xff: "2001:db8::9", want: "2001:db8::9"},
		{name: "empty items and spaces", peer: "10.0.0.2:5000", xff: " 198.51.100.7 , ,", want: "198.51.100.7"},
		{name: "zone dropped", peer: "10.0.0.2:5000", xff: "fe80::1%eth0", want: "fe80::1"},
		{name: "only commas", peer: "10.0.0.2:5000", xff: ",,,", want: "10.0.0.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := r.Client(netip.MustParseAddrPort(tc.peer), tc.xff)
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Fatalf("Client(%s, %q) = %v, want %v", tc.peer, tc.xff, got, want)
			}
		})
	}
}

func TestClientValues(t *testing.T) {
	t.Parallel()
	r := New(prefixes(t, "10.0.0.0/8"))
	tests := []struct {
		name string
		xff  []string
		want string
	}{
		{name: "last field wins", xff: []string{"1.1.1.1", "198.51.100.7"}, want: "198.51.100.7"},
		{name: "trusted hop in last field walks into earlier", xff: []string{"198.51.100.7", "10.3.3.3"}, want: "198.51.100.7"},
		{name: "garbage in last field stops", xff: []string{"198.51.100.7", "x"}, want: "10.0.0.2"},
		{name: "none", want: "10.0.0.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := r.ClientValues(netip.MustParseAddrPort("10.0.0.2:1"), tc.xff)
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Fatalf("ClientValues(%q) = %v, want %v", tc.xff, got, want)
			}
		})
	}
}

func TestNoTrust(t *testing.T) {
	t.Parallel()
	for _, r := range []*Resolver{nil, New(nil)} {
		got := r.Client(netip.MustParseAddrPort("10.0.0.2:1"), "198.51.100.7")
		if want := netip.MustParseAddr("10.0.0.2"); got != want {
			t.Fatalf("Client() with no trusted proxies = %v, want %v", got, want)
		}
	}
}

func BenchmarkClient(b *testing.B) {
	r := New(prefixes(b, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
	peer := netip.MustParseAddrPort("10.0.0.2:5000")
	xff := "203.0.113.9, 198.51.100.7, 10.9.9.9"
	b.ReportAllocs()
	for b.Loop() {
		if r.Client(peer, xff).IsUnspecified() {
			b.Fatal("unspecified")
		}
	}
}

func BenchmarkClientUntrustedPeer(b *testing.B) {
	r := New(prefixes(b, "10.0.0.0/8"))
	peer := netip.MustParseAddrPort("192.0.2.1:5000")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Client(peer, "1.2.3.4")
	}
}

func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "1.1.1.1, 10.0.0.1", "[::1]:80, x", ",,,", "::ffff:1.2.3.4%eth0", "10.0.0.1 , 2001:db8::1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, xff string, trustedPeer bool) {
		peer := netip.MustParseAddrPort("192.0.2.1:1")
		if trustedPeer {
			peer = netip.MustParseAddrPort("10.0.0.2:1")
		}
		got := r.Client(peer, xff)
		if !got.IsValid() {
			t.Fatalf("Client(%q) = invalid address", xff)
		}
		if !trustedPeer && got != peer.Addr() {
			t.Fatalf("Client(untrusted peer, %q) = %v, want the peer %v", xff, got, peer.Addr())
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("Client(%q) = %v, want unmapped without zone", xff, got)
		}
	})
}
