// Package demo holds what `gantry demo` runs: three small in-process HTTP backends on
// loopback and the embedded config that puts the gateway in front of them, showing
// routing (path, params, method, header and JSON-body matches, rewrites) and
// balancing (round robin with active health checks).
//
// It needs no files and no network beyond 127.0.0.1.
package demo
