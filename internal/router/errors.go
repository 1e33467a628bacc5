package router

import "errors"

// Sentinels wrapped by Compile's errors; the message names the route and field.
var (
	// ErrPattern is a Match.Path the router cannot compile.
	ErrPattern = errors.New("invalid path pattern")
	// ErrHost is a Match.Hosts entry the router cannot compile.
	ErrHost = errors.New("invalid host pattern")
	// ErrRegex is a path_regex, header, query or body regex that does not compile.
	ErrRegex = errors.New("invalid regex")
	// ErrCondition is a method, header, query or body condition the router cannot compile.
	ErrCondition = errors.New("invalid match condition")
	// ErrRewrite is a rewrite the router cannot compile.
	ErrRewrite = errors.New("invalid rewrite")
)
