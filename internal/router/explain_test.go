package router

import (
	"testing"

	"github.com/gantrygw/gantry/internal/config"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	r := mustCompile(t, []*config.Route{
		rt("other-listener", "/x/{id}", listeners("admin")),
		rt("other-host", "/x/{id}", hosts("b.com")),
		rt("other-path", "/y"),
		rt("other-method", "/x/{id}", methods("POST")),
		rt("header", "/x/{id}", headers("X-B", exact("1"), "X-A", present(true))),
		rt("query", "/x/{id}", query("q", exact("1"))),
		rt("body", "/x/{id}", body("$.op", exact("a"))),
		rt("loser", "/x/*"),
		rt("winner", "/x/{id}", hosts("a.com")),
		rt("regex-miss", `~/z.*`),
	})
	type want struct {
		matched, winner bool
		reason, field   string
	}
	wants := map[string]want{
		"other-listener": {reason: ReasonListener},
		"other-host":     {reason: ReasonHost},
		"other-path":     {reason: ReasonPath},
		"other-method":   {reason: ReasonMethod},
		"header":         {reason: ReasonHeader, field: "X-A"}, // name order: X-A before X-B
		"query":          {reason: ReasonQuery, field: "q"},
		"body":           {reason: ReasonBody, field: "$.op"},
		"loser":          {matched: true},
		"winner":         {matched: true, winner: true},
		"regex-miss":     {reason: ReasonPath},
	}
	got := r.Explain(&Request{Method: "GET", Host: "a.com", Path: "/x/7", RawQuery: "q=2", Listener: "web", Header: hdr("X-B", "1")})
	if len(got) != len(wants) {
		t.Fatalf("Explain() returned %d candidates, want %d", len(got), len(wants))
	}
	for i, c := range got {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			w := wants[c.Name]
			if c.Route != i || c.Matched != w.matched || c.Winner != w.winner || c.Reason != w.reason || c.Field != w.field {
				t.Errorf("Explain()[%d] = %+v, want route %d %+v", i, c, i, w)
			}
		})
	}
	if w := got[8]; w.Params.Get("id") != "7" {
		t.Errorf("Explain() winner Params.Get(id) = %q, want 7", w.Params.Get("id"))
	}
	if l := got[7]; l.Params.Tail != "7" {
		t.Errorf("Explain() loser Params.Tail = %q, want 7", l.Params.Tail)
	}
}
