package balancer

import (
	"errors"
	"testing"
)

func TestNewTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        string
		weight     int
		wantScheme string
		wantAddr   string
		wantWeight int
		wantErr    bool
	}{
		{name: "http", url: "http://127.0.0.1:9001", weight: 2, wantScheme: "http", wantAddr: "127.0.0.1:9001", wantWeight: 2},
		{name: "https", url: "https://api.internal:8443", weight: 1, wantScheme: "https", wantAddr: "api.internal:8443", wantWeight: 1},
		{name: "h2c", url: "h2c://127.0.0.1:50051", weight: 1, wantScheme: "h2c", wantAddr: "127.0.0.1:50051", wantWeight: 1},
		{name: "plain host:port", url: "127.0.0.1:5432", weight: 3, wantScheme: "", wantAddr: "127.0.0.1:5432", wantWeight: 3},
		{name: "ipv6", url: "http://[::1]:8080", weight: 1, wantScheme: "http", wantAddr: "[::1]:8080", wantWeight: 1},
		{name: "http default port", url: "http://backend", weight: 1, wantScheme: "http", wantAddr: "backend:80", wantWeight: 1},
		{name: "https default port", url: "https://backend/", weight: 1, wantScheme: "https", wantAddr: "backend:443", wantWeight: 1},
		{name: "ipv6 default port", url: "http://[::1]", weight: 1, wantScheme: "http", wantAddr: "[::1]:80", wantWeight: 1},
		{name: "weight 0 means 1", url: "http://h:1", weight: 0, wantScheme: "http", wantAddr: "h:1", wantWeight: 1},
		{name: "negative weight", url: "http://h:1", weight: -1, wantErr: true},
		{name: "unknown scheme", url: "ftp://h:21", weight: 1, wantErr: true},
		{name: "path", url: "http://h:1/api", weight: 1, wantErr: true},
		{name: "plain without port", url: "backend", weight: 1, wantErr: true},
		{name: "h2c without port", url: "h2c://backend", weight: 1, wantErr: true},
		{name: "port out of range", url: "http://h:70000", weight: 1, wantErr: true},
		{name: "port not a number", url: "h:http", weight: 1, wantErr: true},
		{name: "empty host", url: "http://:80", weight: 1, wantErr: true},
		{name: "userinfo", url: "http://u:p@h:80", weight: 1, wantErr: true},
		{name: "empty", url: "", weight: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NewTarget(tc.url, tc.weight, nil)
			if tc.wantErr {
				if !errors.Is(err, ErrBadTarget) {
					t.Fatalf("NewTarget(%q) = %+v, %v; want ErrBadTarget", tc.url, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTarget(%q) error = %v", tc.url, err)
			}
			if got.URL != tc.url || got.Scheme != tc.wantScheme || got.Addr != tc.wantAddr || got.Weight != tc.wantWeight || got.State == nil {
				t.Fatalf("NewTarget(%q) = {URL:%s Scheme:%s Addr:%s Weight:%d State:%p}, want {URL:%s Scheme:%s Addr:%s Weight:%d State:non-nil}",
					tc.url, got.URL, got.Scheme, got.Addr, got.Weight, got.State, tc.url, tc.wantScheme, tc.wantAddr, tc.wantWeight)
			}
		})
	}
}

func TestNewTargetKeepsState(t *testing.T) {
	t.Parallel()
	st := new(State)
	st.Begin()
	got, err := NewTarget("http://h:1", 1, st)
	if err != nil || got.State != st {
		t.Fatalf("NewTarget(state) = %p, %v; want the given State %p", got.State, err, st)
	}
}
