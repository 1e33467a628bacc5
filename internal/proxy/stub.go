package proxy

// TEMPORARY CONTRACT STUB until the proxy branch merges.

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
)

type Picker interface {
	Pick(info *balancer.Info) (*balancer.Target, error)
}
type Observer interface {
	Observe(t *balancer.Target, failed bool)
}
type RetryPolicy struct {
	Attempts      int
	OnConnect     bool
	OnTimeout     bool
	Statuses      []int
	PerTryTimeout time.Duration
	NonIdempotent bool
}
type Budget struct{}

func NewBudget(percent int) *Budget { return &Budget{} }

type Breaker struct{}

func NewBreaker(maxRequests, maxPending int) *Breaker { return &Breaker{} }

type Options struct {
	Upstream              string
	Picker                Picker
	Observer              Observer
	Transport             http.RoundTripper
	ResponseHeaderTimeout time.Duration
	RequestTimeout        time.Duration
	Retry                 RetryPolicy
	Budget                *Budget
	Breaker               *Breaker
	HashKey               balancer.Key
	StickyCookie          string
	TrustForwarded        bool
	Logger                *slog.Logger
}
type TransportOptions struct {
	ConnectTimeout time.Duration
	IdleTimeout    time.Duration
	MaxConns       int
}

func NewTransport(o TransportOptions) *http.Transport { return &http.Transport{} }

type Handler struct{ o Options }

func New(o Options) *Handler { return &Handler{o: o} }

type Exchange struct {
	RequestID        string
	ClientIP         netip.Addr
	Proto            string
	OutPath          string
	OutHost          string
	Target           string
	Status           int
	Tries            int
	UpstreamDuration time.Duration
	Reason           string
	BytesOut         int64
}

func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, ex *Exchange) {}
