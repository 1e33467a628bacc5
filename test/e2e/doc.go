// Package e2e drives the built gantry binary as a user would: it builds it once, runs
// its verbs against real loopback backends and checks what a user sees (exit codes,
// output, HTTP answers, signals). It imports nothing from internal/.
package e2e
