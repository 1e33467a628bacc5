package auth

import "errors"

// Errors of building a Policy (returned wrapped in a *config.BuildError with position).
var (
	ErrNoMethod   = errors.New("auth needs at least one method")
	ErrNoKeys     = errors.New("jwt needs at least one key")
	ErrBadKey     = errors.New("unsupported or invalid key")
	ErrWeakKey    = errors.New("key too weak")
	ErrJWKSStatus = errors.New("unexpected jwks response status")
)

// Verification sentinels, mapped to Reasons; never shown to clients.
var (
	errUnknownKey  = errors.New("no key for the token's kid")
	errAlgorithm   = errors.New("algorithm does not fit the key")
	errBadConsumer = errors.New("consumer claim missing or not a safe string")
)
