package proxy

import "errors"

// ErrHashKey means a consistent_hash key spec is not one of header:NAME, cookie:NAME,
// query:NAME, ip or path.
var ErrHashKey = errors.New("invalid hash key")

// errUpgradeMismatch means the target switched to a protocol the client did not ask for.
var errUpgradeMismatch = errors.New("upstream switched to an unrequested protocol")

// errUpgradeBody means a 101 response had no writable body (not an HTTP/1.1 transport).
var errUpgradeBody = errors.New("upstream 101 response without a writable connection")
