package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/url"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

type apiKeyAuth struct {
	header string
	query  string
	keys   map[[sha256.Size]byte]apiKeyEntry
}

type apiKeyEntry struct {
	hash     [sha256.Size]byte
	consumer *policy.Consumer
}

func newAPIKey(cfg *config.APIKeyAuth, idx *consumerIndex) *apiKeyAuth {
	a := &apiKeyAuth{header: cfg.Header, query: cfg.Query, keys: map[[sha256.Size]byte]apiKeyEntry{}}
	for name, c := range idx.cfg {
		for _, h := range c.KeyHashes() {
			a.keys[h] = apiKeyEntry{hash: h, consumer: idx.byName[name]}
		}
	}
	return a
}

// authenticate looks the key up by its SHA-256. Hashing first means the map lookup's
// timing depends on the digest, not on how many leading bytes of a real key a guess
// shares; the final comparison is constant-time all the same.
func (a *apiKeyAuth) authenticate(r *policy.Request) (*policy.Consumer, Reason) {
	var key string
	if a.header != "" {
		key = r.Header.Get(a.header)
	}
	if key == "" && a.query != "" && r.RawQuery != "" {
		key = queryValue(r.RawQuery, a.query)
	}
	if key == "" {
		return nil, ReasonMissing
	}
	h := sha256.Sum256([]byte(key))
	e, ok := a.keys[h]
	if !ok || subtle.ConstantTimeCompare(h[:], e.hash[:]) != 1 {
		return nil, ReasonInvalidKey
	}
	return e.consumer, ReasonNone
}

// queryValue returns the first value of name in a raw query without building a map.
func queryValue(raw, name string) string {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			return uv
		}
		return ""
	}
	return ""
}
