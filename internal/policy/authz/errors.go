package authz

import "errors"

var errNoValues = errors.New("claim rule needs at least one allowed value")
