package observe

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNewRequestID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if len(id) != 32 {
			t.Fatalf("NewRequestID() = %q, want 32 hex digits", id)
		}
		if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
			t.Fatalf("NewRequestID() = %q, want lower-case hex", id)
		}
		if !ValidRequestID(id) {
			t.Fatalf("ValidRequestID(NewRequestID() = %q) = false, want true", id)
		}
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q within 1000 calls", id)
		}
		seen[id] = true
	}
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "uuid", in: "f47ac10b-58cc-4372-a567-0e02b2c3d479", want: true},
		{name: "dots and underscores", in: "req_1.2-A", want: true},
		{name: "128 chars", in: strings.Repeat("a", 128), want: true},
		{name: "129 chars", in: strings.Repeat("a", 129), want: false},
		{name: "empty", in: "", want: false},
		{name: "space", in: "a b", want: false},
		{name: "quote", in: `a"b`, want: false},
		{name: "newline", in: "a\nb", want: false},
		{name: "non-ascii", in: "ä", want: false},
		{name: "slash", in: "a/b", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidRequestID(tt.in); got != tt.want {
				t.Errorf("ValidRequestID(%q) = %v, want %v", tt.in, got, tt.want)
			}
			got := RequestID(tt.in)
			if tt.want && got != tt.in {
				t.Errorf("RequestID(%q) = %q, want it kept", tt.in, got)
			}
			if !tt.want && (got == tt.in || len(got) != 32) {
				t.Errorf("RequestID(%q) = %q, want a new 32-digit ID", tt.in, got)
			}
		})
	}
}

func BenchmarkRequestID(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			n += len(NewRequestID())
		}
		sink.Add(int64(n))
	})
}

// BenchmarkRequestIDCryptoRand is the alternative NewRequestID does not take; kept to
// show the difference on the machine at hand.
func BenchmarkRequestIDCryptoRand(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var raw [16]byte
		var out [32]byte
		n := 0
		for pb.Next() {
			_, _ = rand.Read(raw[:])
			hex.Encode(out[:], raw[:])
			n += len(string(out[:]))
		}
		sink.Add(int64(n))
	})
}

func BenchmarkValidRequestID(b *testing.B) {
	id := "f47ac10b-58cc-4372-a567-0e02b2c3d479"
	b.ReportAllocs()
	for b.Loop() {
		if !ValidRequestID(id) {
			b.Fatal("invalid")
		}
	}
}

// sink keeps benchmark results alive so the compiler cannot drop the work.
var sink atomic.Int64
