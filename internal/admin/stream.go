package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// getStats serves the latest statistics; ?history=0 leaves the chart history out.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	st := s.stats.snapshot(r.URL.Query().Get("history") != "0")
	if st == nil {
		// The sampler takes its first sample as it starts; wait for it briefly.
		select {
		case <-s.stats.next():
		case <-time.After(2 * s.o.SampleInterval):
		case <-r.Context().Done():
			return
		}
		st = s.stats.snapshot(r.URL.Query().Get("history") != "0")
	}
	if st == nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "not_ready", "statistics are not sampled yet", nil)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// getStatsStream is a Server-Sent Events stream (text/event-stream) of Stats without
// history, one "stats" event per sample. It ends when the client goes away or the
// server shuts down. Browsers read it with fetch (EventSource cannot send the
// Authorization header).
func (s *Server) getStatsStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx in front must not buffer it
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n\n", (2 * s.o.SampleInterval).Milliseconds())
	if err := rc.Flush(); err != nil {
		return
	}
	send := func() bool {
		st := s.stats.snapshot(false)
		if st == nil {
			return true
		}
		b, err := json.Marshal(st)
		if err != nil {
			return false
		}
		// The write deadline keeps a stalled client from holding the goroutine.
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "event: stats\ndata: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		next := s.stats.next()
		select {
		case <-r.Context().Done():
			return
		case <-s.stats.done:
			return
		case <-next:
			if !send() {
				return
			}
		}
	}
}
