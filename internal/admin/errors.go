package admin

import "errors"

// ErrTokenRequired means the admin listener would be reachable from other hosts
// without a token; Serve and CheckAddress return it (wrapped) and serve nothing.
var ErrTokenRequired = errors.New("a token is required when the admin address is not loopback")
