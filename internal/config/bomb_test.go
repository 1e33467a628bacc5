package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAliasBombIsBounded checks that a "billion laughs" document built from merge keys
// is refused quickly instead of expanding 10^9 entries.
func TestAliasBombIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x:\n  l0: &l0 {balance: random}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("listeners: {w: {address: ':1'}}\nupstreams:\n  u:\n    <<: *l9\n    targets: ['http://h:1']\n")
	start := time.Now()
	lines := problemLines(t, b.String(), nil)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("ParseWith(bomb) took %v, want it refused quickly", took)
	}
	if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "config too large") {
		t.Errorf("problems = %v, want a \"config too large\" problem", lines)
	}
}
