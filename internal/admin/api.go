package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/gateway"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/internal/problem"
)

// maxBody bounds admin request bodies (configs, explain requests).
const maxBody = 4 << 20

// writeJSON answers v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client may be gone
}

// ProblemJSON is a problem+json body (RFC 9457) with the admin API's extension member
// "problems": config problems with their positions.
type ProblemJSON struct {
	Type     string          `json:"type"`
	Title    string          `json:"title"`
	Status   int             `json:"status"`
	Reason   string          `json:"reason"`
	Detail   string          `json:"detail,omitempty"`
	Problems []ConfigProblem `json:"problems,omitempty"`
}

// ConfigProblem is one config problem with its position.
type ConfigProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Text is the whole problem as `gantry validate` prints it.
	Text string `json:"text"`
}

// writeProblem answers a problem+json. Without config problems it is internal/problem's
// rendering; with them, the same shape plus the "problems" member.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, reason, detail string, problems []ConfigProblem) {
	w.Header().Set("Cache-Control", "no-store")
	if len(problems) == 0 {
		problem.Write(w, r, problem.Problem{Status: status, Reason: reason, Title: http.StatusText(status), Detail: detail}, "")
		return
	}
	b, _ := json.MarshalIndent(ProblemJSON{Type: "about:blank", Title: http.StatusText(status), Status: status, Reason: reason, Detail: detail, Problems: problems}, "", "  ")
	w.Header().Set("Content-Type", problem.ContentType)
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck
}

// configProblems extracts positioned problems from a config error (nil if it is not one).
func configProblems(err error) []ConfigProblem {
	var ce *config.Error
	if !errors.As(err, &ce) {
		return nil
	}
	out := make([]ConfigProblem, 0, len(ce.Problems))
	for _, p := range ce.Problems {
		out = append(out, ConfigProblem{File: p.Pos.File, Line: p.Pos.Line, Column: p.Pos.Col, Path: p.Path, Message: p.Msg, Text: p.String()})
	}
	return out
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.o.Gateway.Status())
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	b, err := s.o.Gateway.ConfigJSON()
	if err != nil {
		writeProblem(w, r, http.StatusInternalServerError, "internal_error", err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b) //nolint:errcheck
}

func (s *Server) getRoutes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNilSlice(s.o.Gateway.Routes()))
}

func (s *Server) getUpstreams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNilSlice(s.o.Gateway.Upstreams()))
}

func (s *Server) getUpstream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, u := range s.o.Gateway.Upstreams() {
		if u.Name == name {
			writeJSON(w, http.StatusOK, u)
			return
		}
	}
	writeProblem(w, r, http.StatusNotFound, "unknown_upstream", "no upstream named "+name, nil)
}

// DrainResult is the answer of drain and undrain: the target's state afterwards.
type DrainResult struct {
	Upstream string             `json:"upstream"`
	Target   gateway.TargetInfo `json:"target"`
}

// postDrain serves POST /api/v1/upstreams/{name}/targets/drain (on) and /undrain: the
// target URL comes from ?url= or a JSON body {"url": "..."}.
func (s *Server) postDrain(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		target := r.URL.Query().Get("url")
		if target == "" && r.Body != nil {
			var in struct {
				URL string `json:"url"`
			}
			if b, _ := io.ReadAll(io.LimitReader(r.Body, maxBody)); len(b) > 0 {
				if err := json.Unmarshal(b, &in); err != nil {
					writeProblem(w, r, http.StatusBadRequest, "bad_request", "body: "+err.Error(), nil)
					return
				}
			}
			target = in.URL
		}
		if target == "" {
			writeProblem(w, r, http.StatusBadRequest, "bad_request", `name the target: ?url=http://host:port or {"url": "..."}`, nil)
			return
		}
		if err := s.o.Gateway.Drain(name, target, on); err != nil {
			reason := "unknown_target"
			if errors.Is(err, gateway.ErrUnknownUpstream) {
				reason = "unknown_upstream"
			}
			writeProblem(w, r, http.StatusNotFound, reason, err.Error(), nil)
			return
		}
		verb := "drained"
		if !on {
			verb = "undrained"
		}
		s.log.Info("admin: target "+verb, "upstream", name, "target", target)
		res := DrainResult{Upstream: name}
		for _, u := range s.o.Gateway.Upstreams() {
			for _, t := range u.Targets {
				if u.Name == name && t.URL == target {
					res.Target = t
				}
			}
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// ReloadResult is the answer of a successful reload.
type ReloadResult struct {
	Changes    config.Changes `json:"changes"`
	ConfigHash string         `json:"config_hash"`
}

func (s *Server) postReload(w http.ResponseWriter, r *http.Request) {
	if s.o.Reload == nil {
		writeProblem(w, r, http.StatusNotImplemented, "reload_unavailable", "this gateway has no config file to reload", nil)
		return
	}
	changes, err := s.o.Reload()
	if err != nil {
		if ps := configProblems(err); ps != nil {
			writeProblem(w, r, http.StatusUnprocessableEntity, "invalid_config", "the config has problems; still serving the previous one", ps)
			return
		}
		writeProblem(w, r, http.StatusInternalServerError, "reload_failed", err.Error()+"; still serving the previous config", nil)
		return
	}
	s.log.Info("admin: config reloaded", "changes", changes.String())
	writeJSON(w, http.StatusOK, ReloadResult{Changes: changes, ConfigHash: s.o.Gateway.Status().ConfigHash})
}

// ValidateResult is the answer for a valid config body: what applying it would change.
type ValidateResult struct {
	Valid   bool           `json:"valid"`
	Hash    string         `json:"hash"`
	Changes config.Changes `json:"changes"`
	// Summary is Changes on one line, as the reload log prints it.
	Summary string `json:"summary"`
}

// postValidate parses the body as a config without applying it: 422 problem+json with
// every positioned problem, or 200 with the diff against the running config.
func (s *Server) postValidate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "a config body is at most 4 MiB", nil)
		return
	}
	cfg, err := s.o.Validate(body)
	if err != nil {
		ps := configProblems(err)
		if ps == nil {
			ps = []ConfigProblem{{Message: err.Error(), Text: err.Error()}}
		}
		writeProblem(w, r, http.StatusUnprocessableEntity, "invalid_config", "the config has problems", ps)
		return
	}
	ch := config.Diff(s.o.Gateway.Snapshot().Config, cfg)
	writeJSON(w, http.StatusOK, ValidateResult{Valid: true, Hash: cfg.Hash, Changes: ch, Summary: ch.String()})
}

// ExplainInput is the JSON body of POST /api/v1/explain. Headers values may be a
// string or a list of strings; Body is the request body as text.
type ExplainInput struct {
	Listener string                     `json:"listener"`
	Method   string                     `json:"method"`
	URL      string                     `json:"url"`
	Headers  map[string]json.RawMessage `json:"headers"`
	Body     string                     `json:"body"`
	ClientIP string                     `json:"client_ip"`
}

func (s *Server) postExplain(w http.ResponseWriter, r *http.Request) {
	var in ExplainInput
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "bad_request", "body: "+err.Error(), nil)
		return
	}
	req := gateway.ExplainRequest{Method: in.Method, URL: in.URL, Header: http.Header{}, Body: []byte(in.Body), ClientIP: in.ClientIP}
	for k, raw := range in.Headers {
		var one string
		var many []string
		switch {
		case json.Unmarshal(raw, &one) == nil:
			req.Header.Add(k, one)
		case json.Unmarshal(raw, &many) == nil:
			for _, v := range many {
				req.Header.Add(k, v)
			}
		default:
			writeProblem(w, r, http.StatusBadRequest, "bad_request", "headers."+k+": want a string or a list of strings", nil)
			return
		}
	}
	s.explain(w, r, in.Listener, req)
}

// getExplain takes ?method=&url=&listener= and repeatable ?header=Name:%20value.
func (s *Server) getExplain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := gateway.ExplainRequest{Method: q.Get("method"), URL: q.Get("url"), Header: http.Header{}, ClientIP: q.Get("client_ip")}
	for _, h := range q["header"] {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			writeProblem(w, r, http.StatusBadRequest, "bad_request", "header "+h+": want Name: value", nil)
			return
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	s.explain(w, r, q.Get("listener"), req)
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request, listener string, req gateway.ExplainRequest) {
	if req.URL == "" {
		writeProblem(w, r, http.StatusBadRequest, "bad_request", "url is required", nil)
		return
	}
	ex, err := s.o.Gateway.Explain(listener, req)
	if err != nil {
		status, reason := http.StatusBadRequest, "bad_request"
		if errors.Is(err, gateway.ErrUnknownListener) {
			status, reason = http.StatusNotFound, "unknown_listener"
		}
		writeProblem(w, r, status, reason, err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

func (s *Server) getErrors(w http.ResponseWriter, r *http.Request) {
	errs, total := s.o.Gateway.Metrics().RecentErrors(nil)
	writeJSON(w, http.StatusOK, struct {
		Total  uint64                `json:"total"`
		Errors []observe.ErrorRecord `json:"errors"`
	}{total, nonNilSlice(errs)})
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
