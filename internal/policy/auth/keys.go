package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
)

// minRSABits refuses RSA keys below 2048 bits (NIST SP 800-131A).
const minRSABits = 2048

// verifyKey is one key a token may be verified with, pinned to the algorithms of its type.
type verifyKey struct {
	kid  string
	key  any    // []byte, *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
	alg  string // the JWK's "alg", when it named one: then only that algorithm
	algs []string
}

// fits reports whether alg may be verified with k. This pinning is what refuses
// algorithm confusion (an HS256 token "signed" with an RSA public key as HMAC secret).
func (k *verifyKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	return slices.Contains(k.algs, alg)
}

// algorithmsFor returns the algorithms a key type may verify, or an error for
// unsupported or weak keys.
func algorithmsFor(key any) ([]string, error) {
	switch k := key.(type) {
	case []byte:
		return []string{"HS256", "HS384", "HS512"}, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits (minimum %d)", ErrWeakKey, k.N.BitLen(), minRSABits)
		}
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("%w: unsupported curve", ErrBadKey)
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrBadKey, key)
}

// parsePublicPEM reads the first public key or certificate in a PEM document.
func parsePublicPEM(data []byte) (any, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM public key or certificate found", ErrBadKey)
		}
		switch {
		case block.Type == "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
			}
			return k, nil
		case block.Type == "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
			}
			return k, nil
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
			}
			return c.PublicKey, nil
		case strings.Contains(block.Type, "PRIVATE KEY"):
			// A private key in the gateway's config is a mistake worth stopping for.
			return nil, fmt.Errorf("%w: a private key was given; configure the public key", ErrBadKey)
		}
	}
}
