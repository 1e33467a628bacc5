package health

import "errors"

// ErrCheckFailed is wrapped by every failed probe, with the reason (status, body,
// connect error, gRPC serving status).
var ErrCheckFailed = errors.New("health check failed")
