package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/gateway"
	"github.com/gantrygw/gantry/internal/observe"
	"github.com/gantrygw/gantry/web"
)

// Gateway is what the admin API reads and steers; *gateway.Gateway satisfies it.
type Gateway interface {
	Status() gateway.Status
	Routes() []gateway.RouteInfo
	Upstreams() []gateway.UpstreamInfo
	Drain(upstream, targetURL string, on bool) error
	Explain(listener string, req gateway.ExplainRequest) (gateway.Explanation, error)
	ConfigJSON() ([]byte, error)
	Snapshot() *gateway.Snapshot
	Metrics() *observe.Metrics
}

var _ Gateway = (*gateway.Gateway)(nil)

// Options configures a Server.
type Options struct {
	// Gateway is the running gateway; required.
	Gateway Gateway
	// Metrics serves GET /metrics; nil means Gateway.Metrics().Handler().
	Metrics http.Handler
	// Gatherer feeds the dashboard's statistics; nil means Gateway.Metrics().Registry().
	Gatherer prometheus.Gatherer
	// Reload reloads the config from its source and applies it (POST /api/v1/reload);
	// a *config.Error return is answered 422 with every problem. nil: reload answers 501.
	Reload func() (config.Changes, error)
	// Validate parses a config body for POST /api/v1/config/validate; nil means
	// config.Parse("body.yaml", body) (${VAR} resolved from the admin process's environment).
	Validate func(body []byte) (*config.Config, error)
	// Token, when set, is required on every API request as "Authorization: Bearer TOKEN"
	// (loopback included). Serve refuses a non-loopback listener without one.
	Token string
	// Logger receives the server's own errors; nil means slog.Default().
	Logger *slog.Logger
	// Version is shown on the dashboard (the gateway's Status has it too).
	Version string
	// Dashboard serves the dashboard at / and /dashboard/.
	Dashboard bool
	// SampleInterval is how often statistics are sampled (default 1s); Window is the
	// span percentiles and rates are computed over (default 10s); History how long
	// charts look back (default 5m).
	SampleInterval time.Duration
	Window         time.Duration
	History        time.Duration
}

// Server is the admin listener: the versioned JSON API under /api/v1/, /metrics and the
// dashboard. New starts one background goroutine (the statistics sampler); Shutdown
// stops it and the HTTP server. Safe for concurrent use.
type Server struct {
	o       Options
	log     *slog.Logger
	handler http.Handler
	stats   *sampler
	token   [sha256.Size]byte // hash of the token, compared in constant time

	mu     sync.Mutex
	srv    *http.Server
	closed bool
}

// New builds the admin server and starts its statistics sampler.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = o.Gateway.Metrics().Handler()
	}
	if o.Gatherer == nil {
		o.Gatherer = o.Gateway.Metrics().Registry()
	}
	if o.Validate == nil {
		o.Validate = func(body []byte) (*config.Config, error) { return config.Parse("body.yaml", body) }
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = time.Second
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	if o.History <= 0 {
		o.History = 5 * time.Minute
	}
	s := &Server{o: o, log: o.Logger, token: sha256.Sum256([]byte(o.Token))}
	s.stats = newSampler(o.Gateway, o.Gatherer, o.SampleInterval, o.Window, o.History, o.Logger)
	s.handler = s.routes()
	go s.stats.run()
	return s
}

// Handler returns the server's handler (API, metrics, dashboard), with authentication.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until Shutdown. It returns ErrTokenRequired at once, serving
// nothing, when ln is not bound to a loopback address and no token is set; and
// http.ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.o.Token == "" && !IsLoopback(ln.Addr()) {
		return fmt.Errorf("admin listener on %s: %w", ln.Addr(), ErrTokenRequired)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	srv := s.srv
	s.mu.Unlock()
	return srv.Serve(ln)
}

// Shutdown stops the sampler and the HTTP server, letting requests finish until ctx is
// done (statistics streams end at once). It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	first := !s.closed
	s.closed = true
	s.mu.Unlock()
	if first {
		s.stats.stop()
	}
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// IsLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1). An
// unspecified address (0.0.0.0, ::) listens on every interface and is not loopback.
func IsLoopback(addr net.Addr) bool {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAddress is the startup check for a configured admin address: a token is
// required unless the host is loopback. Config validation does the same; the server
// checks again on the bound address so that a hand-built config cannot slip past.
func CheckAddress(address, token string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("admin address %q: %w", address, err)
	}
	if token != "" {
		return nil
	}
	if host == "" || (!strings.EqualFold(host, "localhost") && !isLoopbackIP(host)) {
		return fmt.Errorf("admin address %q: %w", address, ErrTokenRequired)
	}
	return nil
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// authorized checks the bearer token in constant time (over hashes, so the length of
// the token does not leak either).
func (s *Server) authorized(r *http.Request) bool {
	if s.o.Token == "" {
		return true
	}
	const prefix = "bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// requireToken wraps the API: 401 with WWW-Authenticate: Bearer (RFC 6750 §3) when
// a token is set and the request does not carry it.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gantry-admin"`)
			writeProblem(w, r, http.StatusUnauthorized, "unauthenticated", "a valid admin token is required (Authorization: Bearer TOKEN)", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// routes builds the mux. Dashboard assets are public (they hold no data; the page asks
// for the token); everything else needs the token when one is set.
func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/status", s.getStatus)
	api.HandleFunc("GET /api/v1/config", s.getConfig)
	api.HandleFunc("POST /api/v1/config/validate", s.postValidate)
	api.HandleFunc("GET /api/v1/routes", s.getRoutes)
	api.HandleFunc("GET /api/v1/upstreams", s.getUpstreams)
	api.HandleFunc("GET /api/v1/upstreams/{name}", s.getUpstream)
	api.HandleFunc("POST /api/v1/upstreams/{name}/targets/drain", s.postDrain(true))
	api.HandleFunc("POST /api/v1/upstreams/{name}/targets/undrain", s.postDrain(false))
	api.HandleFunc("POST /api/v1/reload", s.postReload)
	api.HandleFunc("GET /api/v1/explain", s.getExplain)
	api.HandleFunc("POST /api/v1/explain", s.postExplain)
	api.HandleFunc("GET /api/v1/errors", s.getErrors)
	api.HandleFunc("GET /api/v1/stats", s.getStats)
	api.HandleFunc("GET /api/v1/stats/stream", s.getStatsStream)
	api.Handle("GET /metrics", s.o.Metrics)
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "not_found", "no such admin endpoint: "+r.Method+" "+r.URL.Path, nil)
	})

	root := http.NewServeMux()
	root.Handle("/api/", s.requireToken(api))
	root.Handle("/metrics", s.requireToken(api))
	if s.o.Dashboard {
		assets := web.Dashboard()
		root.Handle("GET /dashboard/", http.StripPrefix("/dashboard/", assets))
		root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/dashboard/", http.StatusFound)
		})
	}
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "not_found", "no such admin endpoint: "+r.URL.Path, nil)
	})
	return root
}
