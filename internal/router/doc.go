// Package router compiles a config's routes once into an immutable matcher and matches
// requests against it without allocating.
package router
