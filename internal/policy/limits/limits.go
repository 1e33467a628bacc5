package limits

import (
	"strconv"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
	"github.com/gantrygw/gantry/internal/problem"
)

// Name is the policy's config name.
const Name = "limits"

// Limits is a built route limits section.
type Limits struct {
	maxBody int64
	tooBig  *policy.Answer
}

var _ policy.Policy = (*Limits)(nil)

// New builds Limits from a validated section.
func New(cfg *config.RouteLimits) (*Limits, error) {
	if cfg.MaxBodyBytes < 0 {
		return nil, config.FieldError(cfg.At, "max_body_bytes", errNegative)
	}
	l := &Limits{maxBody: int64(cfg.MaxBodyBytes)}
	l.tooBig = &policy.Answer{
		Status: problem.PayloadTooLarge.Status,
		Reason: problem.PayloadTooLarge.Reason,
		Detail: "request body exceeds " + strconv.FormatInt(l.maxBody, 10) + " bytes",
	}
	return l, nil
}

// Name returns "limits".
func (l *Limits) Name() string { return Name }

// Apply answers 413 when the declared length exceeds the cap, else tightens LimitBody.
func (l *Limits) Apply(r *policy.Request) *policy.Answer {
	if l.maxBody == 0 {
		return nil
	}
	if r.ContentLength > l.maxBody {
		return l.tooBig
	}
	if r.LimitBody == 0 || r.LimitBody > l.maxBody {
		r.LimitBody = l.maxBody
	}
	return nil
}
