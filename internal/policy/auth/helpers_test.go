package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

// testKeys are generated once per test binary: RSA generation is slow on shared cores.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec256     *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	secret    []byte
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		k2, e := rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keys.rsa2 = k2
		keys.ec256, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		keys.ec384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		_, keys.ed, e = ed25519.GenerateKey(rand.Reader)
		must(e)
		keys.secret = []byte("0123456789abcdef0123456789abcdef-hs")
		if err != nil {
			panic(err)
		}
	})
	return &keys
}

func pubPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign makes a token; kid "" leaves the header without kid.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString(%s): %v", m.Alg(), err)
	}
	return s
}

// claimsValid returns standard claims valid now.
func claimsValid(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": "https://idp.test",
		"aud": "gantry-api",
		"sub": sub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// newRequest builds a policy request with the given headers (name, value pairs).
func newRequest(kv ...string) *policy.Request {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &policy.Request{Method: "GET", Path: "/", Header: h, RespHeader: http.Header{}, ContentLength: -1}
}

func mustNew(t testing.TB, cfg *config.Auth, consumers map[string]*config.Consumer, opts Options) *Policy {
	t.Helper()
	p, err := New(cfg, consumers, opts)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// jwksServer is a real HTTP JWKS endpoint whose key set can be swapped; it counts fetches.
type jwksServer struct {
	srv     *httptest.Server
	body    atomic.Pointer[[]byte]
	fetches atomic.Int64
	status  atomic.Int64
}

type jwkSpec struct {
	kid string
	key any // public key
	alg string
}

func newJWKSServer(t testing.TB, ks ...jwkSpec) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.status.Store(200)
	s.set(t, ks...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if st := int(s.status.Load()); st != 200 {
			w.WriteHeader(st)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) set(t testing.TB, ks ...jwkSpec) {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key, KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatalf("marshal jwks: %v", err)
	}
	s.body.Store(&b)
}

// fakeClock is a settable clock for JWKS rate limits and token validity.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
