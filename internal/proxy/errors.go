package proxy

import "errors"

// errUpgradeMismatch means the target switched to a protocol the client did not ask for.
var errUpgradeMismatch = errors.New("upstream switched to an unrequested protocol")

// errUpgradeBody means a 101 response had no writable body (not an HTTP/1.1 transport).
var errUpgradeBody = errors.New("upstream 101 response without a writable connection")
