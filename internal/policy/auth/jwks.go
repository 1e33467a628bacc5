package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a JWK Set response.
const maxJWKSBytes = 1 << 20

// fetchTimeout bounds one JWKS fetch even when the client has no timeout.
const fetchTimeout = 10 * time.Second

// jwkSet is one JWKS URL's keys, kept fresh in the background.
type jwkSet struct {
	url          string
	client       *http.Client
	log          *slog.Logger
	refresh      time.Duration
	unknownEvery time.Duration
	now          func() time.Time
	// onChange is called after a fetch installed keys that differ from the previous
	// ones; the JWT authenticator drops its verified-token cache then.
	onChange func()

	table atomic.Pointer[keyTable]

	mu          sync.Mutex // serialises fetches (single flight)
	lastUnknown time.Time  // last fetch caused by an unknown kid; under mu
	lastFailed  time.Time  // last failed fetch while no table exists; under mu

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

type keyTable struct {
	byKID map[string][]*verifyKey
	all   []*verifyKey
	// body is the SHA-256 of the response the table was parsed from: a refresh that
	// returns the same bytes keeps the table (and the tokens verified with it).
	body [sha256.Size]byte
}

func newJWKSet(url string, refresh, unknownEvery time.Duration, client *http.Client, log *slog.Logger, now func() time.Time, onChange func()) *jwkSet {
	ctx, cancel := context.WithCancel(context.Background())
	s := &jwkSet{url: url, client: client, log: log, refresh: refresh, unknownEvery: unknownEvery, now: now,
		onChange: onChange, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go s.run()
	return s
}

// run loads the set at once, then refreshes it every s.refresh until closed. A failed
// refresh keeps the previous keys (an IdP outage must not lock everyone out).
func (s *jwkSet) run() {
	defer close(s.done)
	s.ensureLoaded()
	if s.refresh <= 0 {
		return
	}
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.refreshNow()
		}
	}
}

// refreshNow is one scheduled refresh: fetch and install, keeping the previous keys
// when the fetch fails.
func (s *jwkSet) refreshNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fetch(); err != nil {
		s.log.Warn("jwks refresh failed, keeping previous keys", "url", s.url, "error", err)
	}
}

func (s *jwkSet) close() {
	s.cancel()
	<-s.done
}

// ensureLoaded fetches the set if it was never loaded; after a failure it retries at
// most once per unknownEvery.
func (s *jwkSet) ensureLoaded() {
	if s.table.Load() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.table.Load() != nil {
		return
	}
	if !s.lastFailed.IsZero() && s.now().Sub(s.lastFailed) < s.unknownEvery {
		return
	}
	if err := s.fetch(); err != nil {
		s.lastFailed = s.now()
		s.log.Warn("jwks fetch failed", "url", s.url, "error", err)
	}
}

// keys returns the keys for kid ("" = all keys). An unknown kid triggers one re-fetch
// per unknownEvery across all requests; requests arriving during that fetch wait for it
// and then see its result.
func (s *jwkSet) keys(kid string) []*verifyKey {
	s.ensureLoaded()
	t := s.table.Load()
	if t == nil {
		return nil
	}
	if kid == "" {
		return t.all
	}
	if ks, ok := t.byKID[kid]; ok {
		return ks
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t2 := s.table.Load(); t2 != t {
		return t2.byKID[kid] // someone re-fetched while we waited
	}
	if now := s.now(); s.lastUnknown.IsZero() || now.Sub(s.lastUnknown) >= s.unknownEvery {
		s.lastUnknown = now
		if err := s.fetch(); err != nil {
			s.log.Warn("jwks re-fetch for unknown kid failed", "url", s.url, "error", err)
		}
	}
	return s.table.Load().byKID[kid]
}

// fetch downloads and installs the set; the caller holds s.mu.
func (s *jwkSet) fetch() error {
	ctx, cancel := context.WithTimeout(s.ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("build jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%w: %d", ErrJWKSStatus, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("read jwks: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("read jwks: larger than %d bytes", maxJWKSBytes)
	}
	sum := sha256.Sum256(body)
	if old := s.table.Load(); old != nil && old.body == sum {
		return nil // unchanged: keep the table and what was verified with it
	}
	t, err := s.parse(body)
	if err != nil {
		return err
	}
	t.body = sum
	// Install first, then announce: a request that reads the new generation is thus
	// sure to verify with the new table; announcing first would let a token verified
	// with the old table be cached under the new generation.
	s.table.Store(t)
	if s.onChange != nil {
		s.onChange()
	}
	return nil
}

// parse decodes a JWK Set key by key, skipping (and logging) keys it cannot use rather
// than rejecting the whole set: an IdP adding an unsupported key type must not lock
// out tokens signed with the others. Symmetric ("oct") keys are never taken from a URL.
func (s *jwkSet) parse(body []byte) (*keyTable, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	t := &keyTable{byKID: map[string][]*verifyKey{}}
	for i, rk := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(rk); err != nil {
			s.log.Debug("jwks: skipping key", "url", s.url, "index", i, "error", err)
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		if !jwk.IsPublic() {
			jwk = jwk.Public()
		}
		switch jwk.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			s.log.Debug("jwks: skipping key of unsupported type", "url", s.url, "index", i)
			continue
		}
		algs, err := algorithmsFor(jwk.Key)
		if err != nil {
			s.log.Debug("jwks: skipping key", "url", s.url, "index", i, "error", err)
			continue
		}
		k := &verifyKey{kid: jwk.KeyID, key: jwk.Key, alg: jwk.Algorithm, algs: algs}
		t.all = append(t.all, k)
		if k.kid != "" {
			t.byKID[k.kid] = append(t.byKID[k.kid], k)
		}
	}
	return t, nil
}
