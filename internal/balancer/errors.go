package balancer

import "errors"

// ErrNoTarget means no eligible target is left for this pick.
var ErrNoTarget = errors.New("no target available")

// ErrUnknown means a balancer name is not in the table.
var ErrUnknown = errors.New("unknown balancer")

// ErrBadKey means a hash_key spec is malformed.
var ErrBadKey = errors.New("bad hash key")

// ErrBadTarget means a target URL cannot be parsed.
var ErrBadTarget = errors.New("bad target")
