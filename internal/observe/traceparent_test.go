package observe

import (
	"strings"
	"testing"
)

const (
	validTP  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	validTID = "4bf92f3577b34da6a3ce929d0e0e4736"
	validSID = "00f067aa0ba902b7"
)

func TestParseTraceparent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		wantOK    bool
		wantFlags byte
	}{
		{name: "valid sampled", in: validTP, wantOK: true, wantFlags: 1},
		{name: "valid not sampled", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", wantOK: true, wantFlags: 0},
		{name: "valid other flag bits kept for version 00", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", wantOK: true, wantFlags: 3},
		{name: "future version exact length", in: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", wantOK: true, wantFlags: 1},
		{name: "future version with extra field", in: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future", wantOK: true, wantFlags: 1},
		{name: "future version extra without dash", in: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", wantOK: false},
		{name: "version ff forbidden", in: "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", wantOK: false},
		{name: "version not hex", in: "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", wantOK: false},
		{name: "version 00 with trailing data", in: validTP + "-00", wantOK: false},
		{name: "all-zero trace id", in: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", wantOK: false},
		{name: "all-zero span id", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", wantOK: false},
		{name: "uppercase trace id", in: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", wantOK: false},
		{name: "uppercase flags", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", wantOK: false},
		{name: "short trace id", in: "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", wantOK: false},
		{name: "long span id", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b70-01", wantOK: false},
		{name: "short flags", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", wantOK: false},
		{name: "wrong separator", in: "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", wantOK: false},
		{name: "empty", in: "", wantOK: false},
		{name: "spaces", in: " " + validTP[1:], wantOK: false},
		{name: "non-hex in span id", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tc, ok := ParseTraceparent(tt.in)
			if ok != tt.wantOK {
				t.Fatalf("ParseTraceparent(%q) ok = %v, want %v", tt.in, ok, tt.wantOK)
			}
			if !ok {
				if tc != (TraceContext{}) {
					t.Errorf("ParseTraceparent(%q) = %+v on failure, want zero", tt.in, tc)
				}
				return
			}
			if got := tc.TraceID.String(); got != validTID {
				t.Errorf("TraceID = %s, want %s", got, validTID)
			}
			if got := tc.SpanID.String(); got != validSID {
				t.Errorf("SpanID = %s, want %s", got, validSID)
			}
			if tc.Flags != tt.wantFlags {
				t.Errorf("Flags = %#x, want %#x", tc.Flags, tt.wantFlags)
			}
		})
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	t.Parallel()
	for i := range 100 {
		tc := TraceContext{TraceID: newTraceID(), SpanID: newSpanID(), Flags: byte(i)}
		s := tc.Traceparent()
		got, ok := ParseTraceparent(s)
		if !ok || got != tc {
			t.Fatalf("ParseTraceparent(%q) = %+v, %v, want %+v, true", s, got, ok, tc)
		}
	}
}

func TestValidTracestate(t *testing.T) {
	t.Parallel()
	many := strings.Repeat("k=v,", 32)
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "one member", in: "rojo=00f067aa0ba902b7", want: true},
		{name: "two members with spaces", in: "rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE", want: true},
		{name: "multi-tenant key", in: "fw529a3039@dt=abc", want: true},
		{name: "empty members", in: "a=1,,b=2,", want: true},
		{name: "32 members", in: many, want: true},
		{name: "33 members", in: many + "x=y", want: false},
		{name: "uppercase key", in: "Rojo=1", want: false},
		{name: "no equals", in: "rojo", want: false},
		{name: "empty value", in: "rojo=", want: false},
		{name: "value with equals", in: "a=b=c", want: false},
		{name: "value trailing space inside member", in: "a=b \x01", want: false},
		{name: "two ats", in: "a@b@c=1", want: false},
		{name: "too long", in: "a=" + strings.Repeat("x", 600), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidTracestate(tt.in); got != tt.want {
				t.Errorf("ValidTracestate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzTraceparent(f *testing.F) {
	for _, s := range []string{
		validTP,
		"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tc, ok := ParseTraceparent(s)
		if !ok {
			return
		}
		if !tc.IsValid() {
			t.Fatalf("ParseTraceparent(%q) accepted invalid ids", s)
		}
		// What was accepted must format to a version-00 header that parses back equal.
		out := tc.Traceparent()
		back, ok := ParseTraceparent(out)
		if !ok || back != tc {
			t.Fatalf("round trip of %q via %q = %+v, %v, want %+v", s, out, back, ok, tc)
		}
		if s[:2] == "00" && out != s {
			t.Fatalf("Traceparent() = %q, want the version-00 input %q", out, s)
		}
	})
}

func BenchmarkParseTraceparent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseTraceparent(validTP); !ok {
			b.Fatal("parse failed")
		}
	}
}

func BenchmarkFormatTraceparent(b *testing.B) {
	tc, _ := ParseTraceparent(validTP)
	var buf [64]byte
	b.ReportAllocs()
	for b.Loop() {
		_ = tc.AppendTraceparent(buf[:0])
	}
}
