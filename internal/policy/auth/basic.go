package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/policy"
)

// basicCacheSize bounds the verified-credential cache of one route.
const basicCacheSize = 1024

type basicAuth struct {
	realm string
	users map[string]basicUser
	salt  [16]byte
	// verified holds salted SHA-256 digests of (user, password) pairs that verified.
	verified *boundedCache[digest, struct{}]
	// decoy is a configured user's hash, verified for unknown users.
	decoy basicUser
}

type basicUser struct {
	consumer *policy.Consumer
	bcrypt   []byte               // bcrypt hash, or nil
	argon    *config.Argon2idHash // argon2id hash, or nil
}

func newBasic(cfg *config.BasicAuth, idx *consumerIndex) (*basicAuth, error) {
	b := &basicAuth{realm: cfg.Realm, users: map[string]basicUser{}, verified: newDigestCache[struct{}](basicCacheSize, 0)}
	if b.realm == "" {
		b.realm = config.DefaultRealm
	}
	_, _ = rand.Read(b.salt[:])
	for name, c := range idx.cfg {
		if c.Basic == nil {
			continue
		}
		u := basicUser{consumer: idx.byName[name]}
		h := c.Basic.PasswordHash
		if err := config.CheckPasswordHash(h); err != nil {
			return nil, config.FieldError(c.Basic.At, "password_hash", err)
		}
		if strings.HasPrefix(h, "$argon2id$") {
			a, err := config.ParseArgon2id(h)
			if err != nil {
				return nil, config.FieldError(c.Basic.At, "password_hash", err)
			}
			u.argon = &a
		} else {
			u.bcrypt = []byte(h)
		}
		user := c.Basic.Username
		if user == "" {
			user = name
		}
		b.users[user] = u
		if b.decoy.consumer == nil || name < b.decoy.consumer.Name {
			b.decoy = u // deterministic pick: the first consumer by name
		}
	}
	return b, nil
}

func (b *basicAuth) authenticate(authz string) (*policy.Consumer, Reason) {
	const prefix = "basic "
	if len(authz) < len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return nil, ReasonMissing
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(authz[len(prefix):]))
	if err != nil {
		return nil, ReasonMalformed
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, ReasonMalformed
	}
	u, known := b.users[user]
	if !known {
		// Pay for a real verification anyway, so a failed login costs about the same
		// whether or not the user exists (no user enumeration by timing).
		b.decoy.verify(pass)
		return nil, ReasonBadPassword
	}
	key := b.cacheKey(user, pass)
	if _, ok := b.verified.get(key); ok {
		return u.consumer, ReasonNone
	}
	if !u.verify(pass) {
		return nil, ReasonBadPassword
	}
	b.verified.put(key, struct{}{}, 0)
	return u.consumer, ReasonNone
}

func (b *basicAuth) cacheKey(user, pass string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(b.salt[:])
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(pass))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (u basicUser) verify(pass string) bool {
	switch {
	case u.argon != nil:
		a := u.argon
		got := argon2.IDKey([]byte(pass), a.Salt, a.Time, a.Memory, a.Threads, uint32(len(a.Key)))
		return subtle.ConstantTimeCompare(got, a.Key) == 1
	case u.bcrypt != nil:
		return bcrypt.CompareHashAndPassword(u.bcrypt, []byte(pass)) == nil
	}
	return false
}
