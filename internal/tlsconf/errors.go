package tlsconf

import "errors"

// Errors of building or reloading a Config.
var (
	ErrNoCertificates = errors.New("tls needs at least one certificate")
	ErrMinVersion     = errors.New("unsupported min_version (known: 1.2, 1.3)")
	ErrNoCACerts      = errors.New("no PEM certificates in client CA file")
)
