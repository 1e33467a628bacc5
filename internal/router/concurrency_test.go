package router

import (
	"sync"
	"testing"
)

// TestMatchConcurrent runs Match, NeedsBody, Rewrite and Explain from several goroutines
// on one Router; under -race it proves they only read shared state, and every
// goroutine must see the same answers as a sequential run.
func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	routes := fuzzRoutes()
	r := mustCompile(t, routes)
	reqs := []Request{
		{Method: "GET", Host: "api.example.com", Path: "/health"},
		{Method: "GET", Path: "/users/42"},
		{Method: "PATCH", Path: "/users/42"},
		{Method: "GET", Host: "a.example.com", Path: "/users/1/orders/2"},
		{Method: "POST", Path: "/rpc", Body: []byte(`{"op":"create","user":{"kind":"x"}}`)},
		{Method: "GET", Host: "x.eu.example.com", Path: "/re/7/a"},
		{Method: "GET", Path: "/nothing"},
	}
	want := make([]Result, len(reqs))
	for i := range reqs {
		r.Match(&reqs[i], &want[i])
	}
	const workers, rounds = 4, 300
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Result
			for n := 0; n < rounds; n++ {
				i := n % len(reqs)
				r.Match(&reqs[i], &res)
				r.NeedsBody(&reqs[i])
				_ = r.Rewrite(res.Route, reqs[i].Path, &res.Params)
				if n%50 == 0 {
					_ = r.Explain(&reqs[i])
				}
				if res.Route != want[i].Route || res.Status != want[i].Status || !sameParams(&res.Params, &want[i].Params) {
					errs <- reqs[i].Path
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for p := range errs {
		t.Errorf("concurrent Match(%s) differs from the sequential result", p)
	}
}

// sameParams compares the meaningful part of two Params (entries beyond N are unused).
func sameParams(a, b *Params) bool {
	if a.N != b.N || a.Tail != b.Tail {
		return false
	}
	for k := 0; k < a.N; k++ {
		if a.Names[k] != b.Names[k] || a.Values[k] != b.Values[k] {
			return false
		}
	}
	return true
}
