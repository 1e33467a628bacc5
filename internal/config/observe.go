package config

// PLACEHOLDER — the monitoring work (issue 5) fills these types and validateObserve.

// Observe configures metrics, tracing and the access log.
type Observe struct {
	At `yaml:"-"`
}

// defaultObserve fills defaults of the observe section.
func defaultObserve(c *Config) {}

// validateObserve adds every problem of the observe section to ps.
func validateObserve(c *Config, ps *Problems) {}
