package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRunAgainstRealServer drives a real loopback HTTP server at a low rate: every
// request completes, latencies are positive and ordered, a slow answer is charged to
// the requests scheduled behind it, and a non-200 answer counts as an error.
func TestRunAgainstRealServer(t *testing.T) {
	var slow = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			select {
			case slow <- struct{}{}: // the first request only
				time.Sleep(200 * time.Millisecond)
			default:
			}
		case "/missing":
			http.NotFound(w, r)
			return
		case "/key":
			if r.Header.Get("X-Api-Key") != "k1" || r.Header.Get("X-Other") != "a b" {
				http.Error(w, "no key", http.StatusUnauthorized)
				return
			}
		}
		fmt.Fprint(w, "hello\n")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	req := func(path string) []byte {
		return []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n")
	}

	r := run(u.Host, req("/"), 200, 2, 500*time.Millisecond)
	if r.errors != 0 || r.done < 90 || r.done > 101 {
		t.Fatalf("200/s for 0.5 s on 2 conns: done=%d errors=%d, want about 100 and 0", r.done, r.errors)
	}
	for i := 1; i < len(r.lat); i++ {
		if r.lat[i] < r.lat[i-1] || r.lat[0] <= 0 || r.svc[i] < r.svc[i-1] {
			t.Fatal("latencies not sorted or not positive")
		}
	}
	if len(r.svc) != len(r.lat) || r.svc[len(r.svc)-1] > r.lat[len(r.lat)-1] {
		t.Fatal("service times must be one per request and never above the scheduled latency")
	}

	// One conn at 100/s: the 200 ms stall delays the ~20 requests scheduled behind it,
	// so at least 10% of latencies are ≥ 100 ms (closed-loop counting would show one).
	r = run(u.Host, req("/slow"), 100, 1, 500*time.Millisecond)
	late := 0
	for _, l := range r.lat {
		if l >= 100*time.Millisecond {
			late++
		}
	}
	if r.errors != 0 || late < len(r.lat)/10 {
		t.Fatalf("after a 200 ms stall: %d of %d requests ≥ 100 ms, errors=%d; want ≥ 10%%", late, len(r.lat), r.errors)
	}

	r = run(u.Host, req("/missing"), 50, 1, 200*time.Millisecond)
	if r.errors == 0 || r.done != 0 {
		t.Fatalf("404 answers: done=%d errors=%d, want every request an error", r.done, r.errors)
	}
	if !strings.Contains(r.String(), "errors=") {
		t.Fatal("result line lacks errors")
	}

	// -H headers reach the server on every request; without them it refuses.
	keyURL, _ := url.Parse(srv.URL + "/key")
	withKey, err := buildRequest(keyURL, []string{"X-Api-Key: k1", "X-Other:  a b "})
	if err != nil {
		t.Fatal(err)
	}
	if r = run(u.Host, withKey, 50, 1, 200*time.Millisecond); r.errors != 0 || r.done == 0 {
		t.Fatalf("with -H: done=%d errors=%d, want all answered 200", r.done, r.errors)
	}
	bare, _ := buildRequest(keyURL, nil)
	if r = run(u.Host, bare, 50, 1, 200*time.Millisecond); r.errors == 0 || r.done != 0 {
		t.Fatalf("without -H: done=%d errors=%d, want every request refused", r.done, r.errors)
	}
	for _, bad := range []string{"NoColon", ": v", "Bad Name: v", "X: a\r\nInjected: 1"} {
		if _, err := buildRequest(keyURL, []string{bad}); err == nil {
			t.Errorf("-H %q accepted, want an error", bad)
		}
	}
}
