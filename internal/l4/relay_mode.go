package l4

import "os"

// relayMode is GANTRY_L4_RELAY: "goroutine" makes every TCP session use the
// two-goroutine relay even where the readiness loop runs, so benchmarks can compare
// the two in one build. Anything else (normally unset) picks the best available.
var relayMode = os.Getenv("GANTRY_L4_RELAY")
