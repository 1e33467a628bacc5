package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/testbackend"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	live := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "live"})
	unavailable := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "unavailable", Status: 503})
	slow := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "slow", Delay: 5 * time.Second})
	dead := deadURL(t)
	connectRetry := RetryPolicy{Attempts: 2, OnConnect: true}

	tests := []struct {
		name        string
		targets     []string
		retry       RetryPolicy
		method      string
		body        string
		wantStatus  int
		wantBackend string
		wantTries   int
	}{
		{name: "GET retried after connect failure", targets: []string{dead, live.URL}, retry: connectRetry, method: "GET", wantStatus: 200, wantBackend: "live", wantTries: 2},
		{name: "POST not retried by default", targets: []string{dead, live.URL}, retry: connectRetry, method: "POST", body: "order", wantStatus: 502, wantTries: 1},
		{name: "POST retried when opted in, body intact", targets: []string{dead, live.URL}, retry: RetryPolicy{Attempts: 1, OnConnect: true, NonIdempotent: true}, method: "POST", body: "order", wantStatus: 200, wantBackend: "live", wantTries: 2},
		{name: "connect retry off", targets: []string{dead, live.URL}, retry: RetryPolicy{Attempts: 2}, method: "GET", wantStatus: 502, wantTries: 1},
		{name: "status retried", targets: []string{unavailable.URL, live.URL}, retry: RetryPolicy{Attempts: 1, Statuses: []int{503}}, method: "GET", wantStatus: 200, wantBackend: "live", wantTries: 2},
		{name: "status not listed is forwarded", targets: []string{unavailable.URL, live.URL}, retry: RetryPolicy{Attempts: 1, Statuses: []int{502}}, method: "GET", wantStatus: 503, wantBackend: "unavailable", wantTries: 1},
		{name: "last retryable status is forwarded when no target is left", targets: []string{unavailable.URL}, retry: RetryPolicy{Attempts: 2, Statuses: []int{503}}, method: "GET", wantStatus: 503, wantBackend: "unavailable", wantTries: 1},
		{name: "per-try timeout retried", targets: []string{slow.URL, live.URL}, retry: RetryPolicy{Attempts: 1, OnTimeout: true, PerTryTimeout: 150 * time.Millisecond}, method: "GET", wantStatus: 200, wantBackend: "live", wantTries: 2},
		{name: "per-try timeout without retry", targets: []string{slow.URL, live.URL}, retry: RetryPolicy{Attempts: 1, PerTryTimeout: 150 * time.Millisecond}, method: "GET", wantStatus: 504, wantTries: 1},
		{name: "attempts exhausted", targets: []string{dead, deadURL(t), live.URL}, retry: RetryPolicy{Attempts: 1, OnConnect: true}, method: "GET", wantStatus: 502, wantTries: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var targets []*balancer.Target
			for _, u := range tc.targets {
				targets = append(targets, target(t, u))
			}
			obs := &countingObserver{}
			g := startProxy(t, Options{Picker: &ordered{targets: targets}, Retry: tc.retry, Observer: obs}, nil)
			req, _ := http.NewRequest(tc.method, g.URL+"/r", strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = nil
			}
			res, b := do(t, client(t), req)
			ex := g.exchange(t)
			if res.StatusCode != tc.wantStatus || ex.Tries != tc.wantTries {
				t.Fatalf("status, tries = %d, %d; want %d, %d (body %s)", res.StatusCode, ex.Tries, tc.wantStatus, tc.wantTries, b)
			}
			if tc.wantBackend != "" {
				e := decodeEcho(t, b)
				if e.Backend != tc.wantBackend {
					t.Errorf("answered by %q, want %q", e.Backend, tc.wantBackend)
				}
				sum := sha256.Sum256([]byte(tc.body))
				if e.BodySHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("backend body sha = %s, want that of %q", e.BodySHA256, tc.body)
				}
			}
			if _, failed := obs.counts(tc.targets[0]); tc.wantTries > 1 && failed != 1 {
				t.Errorf("observer saw %d failures of the first target, want 1", failed)
			}
			for i, tg := range targets {
				if n := tg.State.InFlight(); n != 0 {
					t.Errorf("target %d in flight = %d after the request, want 0", i, n)
				}
			}
		})
	}
}

func TestRetryAfterBodyReadNeedsGetBody(t *testing.T) {
	t.Parallel()
	// The first target reads the body and then fails with a retryable status.
	first := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "first", Status: 503})
	second := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "second"})
	for _, replayable := range []bool{false, true} {
		name := "streamed body is not retried"
		if replayable {
			name = "GetBody makes it retryable"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const body = "payload that the first target consumed"
			g := startProxy(t, Options{
				Picker: &ordered{targets: []*balancer.Target{target(t, first.URL), target(t, second.URL)}},
				Retry:  RetryPolicy{Attempts: 1, Statuses: []int{503}},
			}, func(r *http.Request, ex *Exchange) {
				if replayable { // as the gateway does after buffering a body for matching
					b, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(b))
					r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
				}
			})
			req, _ := http.NewRequest(http.MethodPut, g.URL+"/p", strings.NewReader(body))
			res, b := do(t, client(t), req)
			e := decodeEcho(t, b)
			want, wantStatus := "first", 503
			if replayable {
				want, wantStatus = "second", 200
			}
			if res.StatusCode != wantStatus || e.Backend != want {
				t.Fatalf("answer = %d from %q, want %d from %q", res.StatusCode, e.Backend, wantStatus, want)
			}
			if e.BodyLength != int64(len(body)) {
				t.Errorf("backend body length = %d, want %d", e.BodyLength, len(body))
			}
		})
	}
}

func TestRetryBudgetExhausts(t *testing.T) {
	t.Parallel()
	live := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "live"})
	busy := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "busy", Status: 503})
	// 0% of requests plus 1 per second over a 10 s window: 10 retries, then none.
	budget := NewBudget(BudgetOptions{Percent: 0, MinPerSecond: 1, Window: 10 * time.Second})
	g := startProxy(t, Options{
		Picker: &ordered{targets: []*balancer.Target{target(t, busy.URL), target(t, live.URL)}},
		Retry:  RetryPolicy{Attempts: 1, Statuses: []int{503}},
		Budget: budget,
	}, nil)
	c := client(t)
	var ok, refused int
	for range 14 {
		res, _ := get(t, c, g.URL+"/b", nil)
		switch res.StatusCode {
		case 200:
			ok++
		case 503:
			refused++
		default:
			t.Fatalf("status = %d, want 200 or 503", res.StatusCode)
		}
	}
	if ok != 10 || refused != 4 {
		t.Errorf("retried %d and refused %d of 14, want 10 and 4", ok, refused)
	}
}

// TestConnectRetriesSpendNoBudget: a refused connection reached no server, so retrying
// it is allowed even with the budget spent (a dead target must not cause client errors).
func TestConnectRetriesSpendNoBudget(t *testing.T) {
	t.Parallel()
	live := testbackend.StartHTTP(t, testbackend.HTTPOptions{Name: "live"})
	dead := deadURL(t)
	budget := NewBudget(BudgetOptions{Percent: 0, MinPerSecond: 0, Window: 10 * time.Second})
	g := startProxy(t, Options{
		Picker: &ordered{targets: []*balancer.Target{target(t, dead), target(t, live.URL)}},
		Retry:  RetryPolicy{Attempts: 1, OnConnect: true},
		Budget: budget,
	}, nil)
	c := client(t)
	for i := range 14 {
		if res, _ := get(t, c, g.URL+"/b", nil); res.StatusCode != 200 {
			t.Fatalf("request %d: status = %d, want 200 (connect retry despite an empty budget)", i, res.StatusCode)
		}
	}
}

func TestMidStreamFailureAborts(t *testing.T) {
	t.Parallel()
	be := testbackend.StartHTTP(t, testbackend.HTTPOptions{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(200)
		_, _ = w.Write(make([]byte, 64<<10)) // more than the proxy server buffers, so headers reach the client
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // cut the connection mid-body
	})})
	tg := target(t, be.URL)
	obs := &countingObserver{}
	g := startProxy(t, Options{Picker: &ordered{targets: []*balancer.Target{tg}}, Observer: obs}, nil)
	res, err := client(t).Get(g.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("client body read error = %v, want unexpected EOF (not a silent truncation)", err)
	}
	ex := g.exchange(t)
	if ex.Reason != "upstream_aborted" || ex.Status != 200 {
		t.Errorf("exchange = %d %q, want 200 upstream_aborted", ex.Status, ex.Reason)
	}
	if _, failed := obs.counts(tg.URL); failed != 1 {
		t.Errorf("observer failures = %d, want 1", failed)
	}
}
