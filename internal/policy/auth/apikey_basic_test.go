package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gantrygw/gantry/internal/config"
)

const (
	keyAlice = "alice-key-0123456789abcdef"
	keyBob   = "bob-key-0123456789abcdef-zz"
)

func apiKeyConsumers() map[string]*config.Consumer {
	sum := sha256.Sum256([]byte(keyBob))
	return map[string]*config.Consumer{
		"alice": {Name: "alice", APIKeys: []string{keyAlice}, Groups: []string{"staff"}},
		"bob":   {Name: "bob", APIKeySHA256: []string{hex.EncodeToString(sum[:])}},
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	p := mustNew(t, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-Api-Key", Query: "api_key"}}, apiKeyConsumers(), Options{})
	tests := []struct {
		name     string
		header   string
		query    string
		want     Reason
		consumer string
	}{
		{name: "plain key in header", header: keyAlice, want: ReasonNone, consumer: "alice"},
		{name: "hashed key in header", header: keyBob, want: ReasonNone, consumer: "bob"},
		{name: "key in query", query: "x=1&api_key=" + keyAlice, want: ReasonNone, consumer: "alice"},
		{name: "escaped key in query", query: "api%5Fkey=" + keyBob, want: ReasonNone, consumer: "bob"},
		{name: "header wins over query", header: keyBob, query: "api_key=" + keyAlice, want: ReasonNone, consumer: "bob"},
		{name: "wrong key", header: "alice-key-0123456789abcdeX", want: ReasonInvalidKey},
		{name: "key prefix", header: keyAlice[:10], want: ReasonInvalidKey},
		{name: "the stored hash is not a key", header: func() string { s := sha256.Sum256([]byte(keyBob)); return hex.EncodeToString(s[:]) }(), want: ReasonInvalidKey},
		{name: "missing", want: ReasonMissing},
		{name: "other query param", query: "key=" + keyAlice, want: ReasonMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRequest("X-Consumer", "admin")
			if tc.header != "" {
				r.Header.Set("X-Api-Key", tc.header)
			}
			r.RawQuery = tc.query
			a := p.Apply(r)
			got := ReasonNone
			if a != nil {
				got = reasonOf(t, a)
			}
			if got != tc.want {
				t.Fatalf("Apply() reason = %v, want %v", got, tc.want)
			}
			if got := r.Header.Get("X-Consumer"); got != tc.consumer {
				t.Fatalf("X-Consumer = %q, want %q (client copy always removed)", got, tc.consumer)
			}
			if tc.want == ReasonNone && r.Consumer.Name != tc.consumer {
				t.Fatalf("Consumer = %q, want %q", r.Consumer.Name, tc.consumer)
			}
			if a != nil && a.Header["WWW-Authenticate"] != `ApiKey realm="gantry", header="X-Api-Key"` {
				t.Fatalf("WWW-Authenticate = %q", a.Header["WWW-Authenticate"])
			}
		})
	}
}

func argon2idHash(pass string) string {
	salt := []byte("saltsaltsalt1234")
	key := argon2.IDKey([]byte(pass), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestBasic(t *testing.T) {
	t.Parallel()
	bh, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	consumers := map[string]*config.Consumer{
		"alice": {Name: "alice", Basic: &config.BasicCredential{Username: "alice", PasswordHash: string(bh)}},
		"carol": {Name: "carol", Basic: &config.BasicCredential{Username: "carol@example.com", PasswordHash: argon2idHash("pa:ss")}},
	}
	p := mustNew(t, &config.Auth{Basic: &config.BasicAuth{Realm: "shop"}}, consumers, Options{})
	basic := func(u, pw string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+pw)) }
	tests := []struct {
		name     string
		authz    string
		want     Reason
		consumer string
	}{
		{name: "bcrypt good", authz: basic("alice", "s3cret"), want: ReasonNone, consumer: "alice"},
		{name: "bcrypt good again (cached)", authz: basic("alice", "s3cret"), want: ReasonNone, consumer: "alice"},
		{name: "bcrypt bad", authz: basic("alice", "s3cret!"), want: ReasonBadPassword},
		{name: "argon2id good, colon in password", authz: basic("carol@example.com", "pa:ss"), want: ReasonNone, consumer: "carol"},
		{name: "argon2id bad", authz: basic("carol@example.com", "pa"), want: ReasonBadPassword},
		{name: "unknown user", authz: basic("mallory", "s3cret"), want: ReasonBadPassword},
		{name: "lower-case scheme", authz: "basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), want: ReasonNone, consumer: "alice"},
		{name: "bad base64", authz: "Basic !!!", want: ReasonMalformed},
		{name: "no colon", authz: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), want: ReasonMalformed},
		{name: "missing", want: ReasonMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest()
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			a := p.Apply(r)
			got := ReasonNone
			if a != nil {
				got = reasonOf(t, a)
				if ch := a.Header["WWW-Authenticate"]; ch != `Basic realm="shop", charset="UTF-8"` {
					t.Fatalf("WWW-Authenticate = %q", ch)
				}
			}
			if got != tc.want {
				t.Fatalf("Apply() reason = %v, want %v", got, tc.want)
			}
			if tc.want == ReasonNone && r.Header.Get("X-Consumer") != tc.consumer {
				t.Fatalf("X-Consumer = %q, want %q", r.Header.Get("X-Consumer"), tc.consumer)
			}
		})
	}
	if got := p.basic.verified.len(); got != 2 {
		t.Fatalf("verified cache holds %d entries, want 2 (alice, carol; failures never cached)", got)
	}
}

func TestAnyMethodMaySucceed(t *testing.T) {
	t.Parallel()
	k := getKeys(t)
	cfg := staticJWTConfig(t)
	cfg.APIKey = &config.APIKeyAuth{Header: "X-Api-Key"}
	p := mustNew(t, cfg, apiKeyConsumers(), Options{})
	tok := sign(t, jwtHS256, k.secret, "hs1", claimsValid("alice"))
	tests := []struct {
		name     string
		kv       []string
		want     Reason
		consumer string
	}{
		{name: "bad key, good token", kv: []string{"X-Api-Key", "wrong-wrong-wrong-wrong", "Authorization", "Bearer " + tok}, want: ReasonNone, consumer: "alice"},
		{name: "good key, bad token", kv: []string{"X-Api-Key", keyBob, "Authorization", "Bearer x.y.z"}, want: ReasonNone, consumer: "bob"},
		{name: "both bad: first failure reported", kv: []string{"X-Api-Key", "wrong-wrong-wrong-wrong", "Authorization", "Bearer x.y.z"}, want: ReasonInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRequest(tc.kv...)
			a := p.Apply(r)
			got := ReasonNone
			if a != nil {
				got = reasonOf(t, a)
			}
			if got != tc.want {
				t.Fatalf("Apply() reason = %v, want %v", got, tc.want)
			}
			if tc.want == ReasonNone && r.Consumer.Name != tc.consumer {
				t.Fatalf("Consumer = %q, want %q", r.Consumer.Name, tc.consumer)
			}
		})
	}
}

func TestStripConsumerHeader(t *testing.T) {
	t.Parallel()
	r := newRequest("X-Consumer", "admin", "x-consumer", "admin2", "X-Other", "keep")
	StripConsumerHeader(r.Header, "")
	if got := r.Header.Values("X-Consumer"); len(got) != 0 {
		t.Fatalf("X-Consumer = %q after strip, want none", got)
	}
	if r.Header.Get("X-Other") != "keep" {
		t.Fatal("StripConsumerHeader removed an unrelated header")
	}
}

func TestNewNeedsMethod(t *testing.T) {
	t.Parallel()
	if _, err := New(&config.Auth{}, nil, Options{}); err == nil {
		t.Fatal("New(no methods) error = nil, want error")
	}
}
