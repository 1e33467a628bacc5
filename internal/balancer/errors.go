package balancer

import "errors"

// ErrNoTarget means no eligible target is left for this pick.
var ErrNoTarget = errors.New("no target available")

// ErrUnknown means a balancer name is not in the table.
var ErrUnknown = errors.New("unknown balancer")
