package balancer

import (
	"fmt"
	"slices"
)

// factories is the name→Factory table: every algorithm the YAML can name, written out
// here rather than registered by init side effects, so the list is read in one place.
var factories = map[string]Factory{
	RoundRobinName:         RoundRobin,
	WeightedRoundRobinName: WeightedRoundRobin,
	LeastConnectionsName:   LeastConnections,
	LeastRequestName:       LeastRequest,
	EWMAName:               EWMA,
	IPHashName:             IPHash,
	ConsistentHashName:     ConsistentHash,
	RandomName:             Random,
	StickyName:             Sticky,
}

// New returns the Factory for a balancer name as written in upstreams.NAME.balance;
// "" means round_robin. Unknown names wrap ErrUnknown and list the known ones.
func New(name string) (Factory, error) {
	if name == "" {
		return RoundRobin, nil
	}
	if f, ok := factories[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknown, name, Names())
}

// Names returns the known balancer names, sorted.
func Names() []string {
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
