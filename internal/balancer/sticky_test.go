package balancer

import (
	"regexp"
	"testing"
)

func TestStickyID(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	again, _ := NewTarget(ts[0].URL, 5, nil)
	if a, b := StickyID(ts[0]), StickyID(again); a != b {
		t.Errorf("StickyID(same URL) = %s and %s, want equal", a, b)
	}
	seen := map[string]bool{}
	for _, x := range ts {
		id := StickyID(x)
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
			t.Errorf("StickyID(%s) = %q, want 16 hex digits", x.URL, id)
		}
		if seen[id] {
			t.Errorf("StickyID(%s) = %s, a duplicate", x.URL, id)
		}
		seen[id] = true
	}
	if got := StickyID(nil); got != "" {
		t.Errorf("StickyID(nil) = %q, want \"\"", got)
	}
}

func TestSticky(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	b := Sticky(poolOf(ts), nil)
	tests := []struct {
		name string
		info Info
		want *Target // nil: round-robin fallback, each target a third
	}{
		{name: "named target", info: Info{Sticky: StickyID(ts[1])}, want: ts[1]},
		{name: "named and tried", info: Info{Sticky: StickyID(ts[1]), Tried: []*Target{ts[1], ts[0]}}, want: ts[2]},
		{name: "unknown cookie", info: Info{Sticky: "0123456789abcdef"}},
		{name: "no cookie", info: Info{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counts := make([]int, len(ts))
			for i := 0; i < 300; i++ {
				info := tc.info
				got := mustPick(t, b, &info)
				if tc.want != nil && got != tc.want {
					t.Fatalf("Pick() = %s, want %s", got.URL, tc.want.URL)
				}
				counts[indexOf(ts, got)]++
			}
			if tc.want == nil {
				for i, c := range counts {
					if c != 100 {
						t.Errorf("fallback picks of target %d = %d, want 100 (round robin)", i, c)
					}
				}
			}
		})
	}
}

func TestStickyTargetLeftPool(t *testing.T) {
	t.Parallel()
	ts := newTargets(t, 3)
	b := Sticky(poolOf(ts[1:]), nil) // ts[0] unhealthy: not in the pool
	for i := 0; i < 10; i++ {
		if got := mustPick(t, b, &Info{Sticky: StickyID(ts[0])}); got == ts[0] {
			t.Fatalf("Pick() = %s, a target outside the pool", got.URL)
		}
	}
}
