package config

// PLACEHOLDER — the security work (issue 4) fills these types and validateSecurity.

// Consumer is a named identity; credentials map to it.
type Consumer struct {
	At   `yaml:"-"`
	Name string `yaml:"-"`
}

// Security holds gateway-wide security settings.
type Security struct {
	At `yaml:"-"`
}

// IPFilter allows or denies clients by CIDR.
type IPFilter struct {
	At `yaml:"-"`
}

// CORS answers preflights and adds CORS headers.
type CORS struct {
	At `yaml:"-"`
}

// RouteLimits bound what a request on a route may send.
type RouteLimits struct {
	At `yaml:"-"`
}

// Auth lists the authentication methods of a route; any may succeed.
type Auth struct {
	At `yaml:"-"`
}

// Authz says who may use a route once authenticated.
type Authz struct {
	At `yaml:"-"`
}

// defaultSecurity fills defaults of the security sections.
func defaultSecurity(c *Config) {}

// validateSecurity adds every problem of the security sections to ps.
func validateSecurity(c *Config, ps *Problems) {}
