// Package testbackend starts real loopback backends for tests: TCP echo and sha256
// sinks, UDP echo (and, from other files, HTTP backends).
package testbackend
