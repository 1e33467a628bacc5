package limits

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		max        config.Size
		length     int64
		limitBody  int64
		wantStatus int
		wantLimit  int64
	}{
		{name: "declared length over cap", max: 100, length: 101, wantStatus: 413, wantLimit: 0},
		{name: "declared length at cap", max: 100, length: 100, wantLimit: 100},
		{name: "unknown length gets streaming cap", max: 100, length: -1, wantLimit: 100},
		{name: "tighter existing cap kept", max: 100, length: -1, limitBody: 50, wantLimit: 50},
		{name: "looser existing cap tightened", max: 100, length: -1, limitBody: 500, wantLimit: 100},
		{name: "no cap", max: 0, length: 1 << 40, wantLimit: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(&config.RouteLimits{MaxBodyBytes: tc.max})
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			r := &policy.Request{ContentLength: tc.length, LimitBody: tc.limitBody}
			a := l.Apply(r)
			got := 0
			if a != nil {
				got = a.Status
				if a.Reason != "body_too_large" {
					t.Errorf("Reason = %q, want body_too_large", a.Reason)
				}
			}
			if got != tc.wantStatus {
				t.Fatalf("Apply() status = %d, want %d", got, tc.wantStatus)
			}
			if r.LimitBody != tc.wantLimit {
				t.Fatalf("LimitBody = %d, want %d", r.LimitBody, tc.wantLimit)
			}
		})
	}
}

func TestNewNegative(t *testing.T) {
	t.Parallel()
	if _, err := New(&config.RouteLimits{MaxBodyBytes: -1}); err == nil {
		t.Fatal("New(-1) error = nil, want error")
	}
}
