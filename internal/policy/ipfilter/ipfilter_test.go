package ipfilter

import (
	"net/netip"
	"testing"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		allow  []string
		deny   []string
		client string
		want   int // 0: passes
	}{
		{name: "allow list admits member", allow: []string{"10.0.0.0/8"}, client: "10.1.2.3", want: 0},
		{name: "allow list refuses others", allow: []string{"10.0.0.0/8"}, client: "192.0.2.1", want: 403},
		{name: "deny list refuses member", deny: []string{"192.0.2.0/24"}, client: "192.0.2.9", want: 403},
		{name: "deny list admits others", deny: []string{"192.0.2.0/24"}, client: "198.51.100.1", want: 0},
		{name: "deny wins over allow", allow: []string{"10.0.0.0/8"}, deny: []string{"10.6.0.0/16"}, client: "10.6.1.1", want: 403},
		{name: "bare address", allow: []string{"203.0.113.5"}, client: "203.0.113.5", want: 0},
		{name: "bare address is exact", allow: []string{"203.0.113.5"}, client: "203.0.113.6", want: 403},
		{name: "ipv6", allow: []string{"2001:db8::/32"}, client: "2001:db8::1", want: 0},
		{name: "ipv4-mapped client matches ipv4 rule", deny: []string{"192.0.2.0/24"}, client: "::ffff:192.0.2.1", want: 403},
		{name: "ipv4-mapped rule matches ipv4 client", deny: []string{"::ffff:192.0.2.0/120"}, client: "192.0.2.1", want: 403},
		{name: "invalid client refused", deny: []string{"192.0.2.0/24"}, client: "", want: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := New(&config.IPFilter{Allow: tc.allow, Deny: tc.deny})
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			var c netip.AddrPort
			if tc.client != "" {
				c = netip.AddrPortFrom(netip.MustParseAddr(tc.client), 1)
			}
			a := f.Apply(&policy.Request{Client: c})
			got := 0
			if a != nil {
				got = a.Status
				if a.Reason != "forbidden" {
					t.Errorf("Reason = %q, want forbidden", a.Reason)
				}
			}
			if got != tc.want {
				t.Fatalf("Apply(%s) status = %d, want %d", tc.client, got, tc.want)
			}
		})
	}
}

func TestNewBadCIDR(t *testing.T) {
	t.Parallel()
	if _, err := New(&config.IPFilter{Allow: []string{"10.0.0.0/33"}}); err == nil {
		t.Fatal("New(10.0.0.0/33) error = nil, want error")
	}
}

func BenchmarkApply(b *testing.B) {
	f, err := New(&config.IPFilter{Allow: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}, Deny: []string{"10.66.0.0/16"}})
	if err != nil {
		b.Fatal(err)
	}
	r := &policy.Request{Client: netip.MustParseAddrPort("192.168.4.4:1")}
	b.ReportAllocs()
	for b.Loop() {
		if f.Apply(r) != nil {
			b.Fatal("refused")
		}
	}
}
