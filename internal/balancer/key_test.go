package balancer

import (
	"errors"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    string
		want    Key
		wantErr bool
	}{
		{name: "header", spec: "header:X-User", want: Key{Kind: KeyHeader, Name: "X-User"}},
		{name: "cookie", spec: "cookie:session", want: Key{Kind: KeyCookie, Name: "session"}},
		{name: "query", spec: "query:tenant", want: Key{Kind: KeyQuery, Name: "tenant"}},
		{name: "ip", spec: "ip", want: Key{Kind: KeyIP}},
		{name: "path", spec: "path", want: Key{Kind: KeyPath}},
		{name: "spaces trimmed", spec: " header: X-User ", want: Key{Kind: KeyHeader, Name: "X-User"}},
		{name: "header without name", spec: "header:", wantErr: true},
		{name: "header bare", spec: "header", wantErr: true},
		{name: "ip with name", spec: "ip:x", wantErr: true},
		{name: "unknown kind", spec: "body:x", wantErr: true},
		{name: "empty", spec: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tc.spec)
			if tc.wantErr {
				if !errors.Is(err, ErrBadKey) {
					t.Fatalf("ParseKey(%q) = %v, %v; want ErrBadKey", tc.spec, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseKey(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
			if back, _ := ParseKey(got.String()); back != got {
				t.Fatalf("ParseKey(%q.String()) = %+v, want %+v", tc.spec, back, got)
			}
		})
	}
}
