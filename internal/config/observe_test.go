package config

import (
	"strings"
	"testing"
)

func TestDefaultObserve(t *testing.T) {
	t.Parallel()
	c := &Config{Observe: Observe{Tracing: &Tracing{OTLPEndpoint: "http://127.0.0.1:4318"}, AccessLog: &AccessLog{}}}
	defaultObserve(c)
	tr, al := c.Observe.Tracing, c.Observe.AccessLog
	if tr.Protocol != TracingHTTP || tr.SampleRatio == nil || *tr.SampleRatio != 1 || tr.ServiceName != "gantry" {
		t.Errorf("tracing defaults = %q, %v, %q, want http, 1, gantry", tr.Protocol, tr.SampleRatio, tr.ServiceName)
	}
	if !al.On() || al.Output != AccessLogStdout || al.Format != AccessLogJSON || al.Buffer != DefaultAccessLogBuffer {
		t.Errorf("access log defaults = on %v, %q, %q, %d, want on, stdout, json, %d", al.On(), al.Output, al.Format, al.Buffer, DefaultAccessLogBuffer)
	}
	zero := 0.0
	off := false
	c = &Config{Observe: Observe{Tracing: &Tracing{SampleRatio: &zero}, AccessLog: &AccessLog{Enabled: &off}}}
	defaultObserve(c)
	if *c.Observe.Tracing.SampleRatio != 0 || c.Observe.AccessLog.On() {
		t.Errorf("explicit sample_ratio 0 / enabled false were overridden by defaults")
	}
	var none Observe
	if none.Tracing.On() || none.AccessLog.On() {
		t.Errorf("absent sections report On() = true, want false")
	}
}

func TestValidateObserve(t *testing.T) {
	t.Parallel()
	ratio := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		obs  Observe
		want []string // substrings, one per expected problem, in order
	}{
		{name: "empty", obs: Observe{}},
		{name: "valid", obs: Observe{
			Tracing:   &Tracing{OTLPEndpoint: "https://otel.example:4317", Protocol: "grpc", SampleRatio: ratio(0.1)},
			AccessLog: &AccessLog{Output: "/var/log/gantry/access.log", Format: "text", Buffer: 100},
		}},
		{name: "tracing problems", obs: Observe{Tracing: &Tracing{OTLPEndpoint: "127.0.0.1:4318", Protocol: "udp", SampleRatio: ratio(1.5), Headers: map[string]string{"bad name": "x"}}},
			want: []string{`observe.tracing.protocol: unknown protocol "udp"`, "observe.tracing.otlp_endpoint: want an http:// or https:// URL", "observe.tracing.sample_ratio: must be between 0 and 1, got 1.5", `observe.tracing.headers: invalid header name "bad name"`}},
		{name: "missing endpoint", obs: Observe{Tracing: &Tracing{}},
			want: []string{"observe.tracing.otlp_endpoint: required"}},
		{name: "access log problems", obs: Observe{AccessLog: &AccessLog{Output: " ", Format: "xml", Buffer: -1}},
			want: []string{`observe.access_log.format: unknown format "xml"`, "observe.access_log.output: want stdout, stderr or a file path", "observe.access_log.buffer: must be between 1 and"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Config{Observe: tt.obs}
			c.Observe.At.Path = "observe"
			if c.Observe.Tracing != nil {
				c.Observe.Tracing.At.Path = "observe.tracing"
			}
			if c.Observe.AccessLog != nil {
				c.Observe.AccessLog.At.Path = "observe.access_log"
			}
			defaultObserve(c)
			var ps Problems
			validateObserve(c, &ps)
			if len(ps.List) != len(tt.want) {
				t.Fatalf("validateObserve() = %d problems %v, want %d", len(ps.List), ps.List, len(tt.want))
			}
			for i, w := range tt.want {
				if got := ps.List[i].String(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}
