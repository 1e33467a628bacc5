package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		p      Problem
		method string
	}{
		{name: "timeout", p: UpstreamTimeout, method: "GET"},
		{name: "detail with quotes and control bytes", p: NoRoute.WithDetail("path \"/a\x01<b>\""), method: "GET"},
		{name: "head has no body", p: NoTarget, method: "HEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(tc.method, "/x", nil)
			Write(rec, r, tc.p, "req-1")
			if rec.Code != tc.p.Status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.p.Status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != ContentType {
				t.Fatalf("Content-Type = %q, want %q", ct, ContentType)
			}
			if tc.method == "HEAD" {
				if rec.Body.Len() != 0 {
					t.Fatalf("HEAD body = %q, want empty", rec.Body.String())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
			}
			if got["reason"] != tc.p.Reason || got["request_id"] != "req-1" || got["status"] != float64(tc.p.Status) {
				t.Fatalf("body = %v, want reason %q, request_id req-1, status %d", got, tc.p.Reason, tc.p.Status)
			}
			if tc.p.Detail != "" && got["detail"] != tc.p.Detail {
				t.Fatalf("detail = %q, want %q", got["detail"], tc.p.Detail)
			}
		})
	}
}

func TestWriteGRPC(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/pkg.Svc/Method", nil)
	r.Header.Set("Content-Type", "application/grpc+proto")
	Write(rec, r, UpstreamTimeout.WithDetail("100%"), "id")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if got := rec.Header().Get("Grpc-Status"); got != "4" {
		t.Fatalf("Grpc-Status = %q, want 4", got)
	}
	if got := rec.Header().Get("Grpc-Message"); got != "The upstream did not answer in time: 100%25" {
		t.Fatalf("Grpc-Message = %q", got)
	}
}
