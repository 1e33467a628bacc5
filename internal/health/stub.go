package health

// TEMPORARY CONTRACT STUB until the balancer/health branch merges.

import (
	"log/slog"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

type StatusSetter interface {
	SetHealthy(t *balancer.Target, healthy bool)
}
type Options struct {
	Config  *config.HealthCheck
	Targets []*balancer.Target
	Setter  StatusSetter
	Logger  *slog.Logger
}
type Checker struct{}

func New(o Options) *Checker { return &Checker{} }
func (c *Checker) Start()    {}
func (c *Checker) Stop()     {}

type Ejector interface {
	Eject(t *balancer.Target, until interface{}) bool
}
type Outlier struct{}

func (o *Outlier) Observe(t *balancer.Target, failed bool) {}

func NewOutlier(cfg *config.Outlier, set any) *Outlier { return &Outlier{} }
