package balancer

// RandomName is the YAML name of Random.
const RandomName = "random"

// Random is a Factory that picks an untried target at random with probability
// proportional to its weight. Stateless, so many gateway replicas need no coordination;
// over many picks it approaches the weighted shares.
func Random(p *Pool, _ Balancer) Balancer { return &random{pool: p} }

type random struct{ pool *Pool }

// Pick returns a weighted random untried target.
func (b *random) Pick(info *Info) (*Target, error) {
	i := weightedRandomUntried(b.pool, info)
	if i < 0 {
		return nil, ErrNoTarget
	}
	return b.pool.Targets[i], nil
}
