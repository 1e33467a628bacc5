// Package config turns a YAML file into a typed, position-carrying Config.
//
// It does three things and nothing else:
//
//  1. Parse: YAML → yaml node tree → the structs in this package, strictly (an unknown
//     key is an error), with ${VAR} and ${VAR:-default} expanded from the environment
//     in scalar values before they are decoded.
//
//  2. Default: every zero-valued knob that has a documented default gets it, so the
//     consumers of a Config (gateway, router, proxy, ...) never interpret zero values.
//
//  3. Validate: every problem is collected (never only the first), each carrying the
//     file, line and column of the offending YAML node and the dotted field path, for
//     example
//
//     gantry.yaml:14:9: routes[2].upstream: unknown upstream "shop2" (known: api, shop)
//
// Every struct that maps a YAML mapping embeds At, which the decoder fills with the
// position of the mapping and of each key's value, so validation code (here and in
// the feature packages that build from a section) can point at the exact field.
//
// The package does not open sockets, read certificate files, compile regexes for use,
// or build anything that runs: the gateway does that from the validated Config.
// Regexes are compiled here only to report syntax errors. A Config is immutable once
// Load returns it, and may be shared between goroutines freely.
//
// Entry points: Load (a file), Parse (embedded bytes), LoadWith/ParseWith (with
// ParseOptions, e.g. an injected environment for ${VAR}). Problems come back as one
// *Error listing every Problem sorted by position. On reload the gateway calls
// Diff(old, new) for the log line and admin API, and Same(a, b) to decide which
// upstreams, routes and listeners to keep; both ignore positions (At).
//
// Pipeline: yaml.Node tree (one document; aliases and "<<" merge keys followed, with a
// node budget against alias bombs) → reflective decode by yaml tags (decode.go, with
// ${VAR} expansion in env.go) → applyDefaults (defaults.go) → validate (validate.go,
// path.go, and validate* beside the types in balancing.go; security.go and observe.go
// contribute through validateSecurity/validateObserve). Decode problems make the
// validation problems they would cause redundant; those are dropped.
//
// Feature areas keep their types in their own file (config.go: listeners, upstreams,
// routes; balancing.go: health, outlier detection, retries, breakers; ...), each with
// its validation beside it.
package config
