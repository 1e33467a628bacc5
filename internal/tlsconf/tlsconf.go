package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantrygw/gantry/internal/config"
)

// Options are the listener TLS settings not (yet) on config.TLS.
type Options struct {
	// Extra holds client_ca_file, hsts and redirect_http; nil: none.
	Extra *config.TLSOptions
	// Logger receives reload outcomes; nil: discard.
	Logger *slog.Logger
}

// CipherSuites are the TLS 1.2 suites offered: ECDHE (forward secrecy) with AEAD only.
// TLS 1.3 suites are not configurable in Go and are all modern.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// NextProtos is the ALPN list: HTTP/2 preferred.
var NextProtos = []string{"h2", "http/1.1"}

// Config is a listener's TLS configuration with hot-reloadable certificates.
type Config struct {
	certs    []config.Certificate
	clientCA string
	min      uint16
	hsts     string
	log      *slog.Logger

	base *tls.Config
	cur  atomic.Pointer[generation]
	mu   sync.Mutex // serialises reloads
}

// generation is one loaded set of certificates and CAs.
type generation struct {
	tls    *tls.Config
	exact  map[string]*tls.Certificate
	wild   map[string]*tls.Certificate // parent domain of "*.parent"
	def    *tls.Certificate
	stamps []stamp
}

type stamp struct {
	path string
	mod  time.Time
	size int64
}

// New loads the certificates (and client CA bundle) and returns the Config. Errors
// carry the config position (*config.BuildError).
func New(cfg *config.TLS, opts Options) (*Config, error) {
	if len(cfg.Certificates) == 0 {
		return nil, config.FieldError(cfg.At, "certificates", ErrNoCertificates)
	}
	c := &Config{certs: append([]config.Certificate(nil), cfg.Certificates...), log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch cfg.MinVersion {
	case "", "1.2":
		c.min = tls.VersionTLS12
	case "1.3":
		c.min = tls.VersionTLS13
	default:
		return nil, config.FieldError(cfg.At, "min_version", fmt.Errorf("%w: %q", ErrMinVersion, cfg.MinVersion))
	}
	if x := opts.Extra; x != nil {
		c.clientCA = x.ClientCAFile
		c.hsts = HSTSValue(x.HSTS)
	}
	g, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cur.Store(g)
	c.base = &tls.Config{
		MinVersion:   c.min,
		CipherSuites: CipherSuites,
		NextProtos:   NextProtos,
		// GetConfigForClient makes reloads atomic for certificates and client CAs alike.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return c.cur.Load().tls, nil },
		// GetCertificate is never reached while GetConfigForClient answers; it is set so
		// http.Server.ServeTLS accepts the config without certificate files.
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load().certificate(h) },
	}
	return c, nil
}

// TLSConfig returns the listener's *tls.Config. It is the same value for the life of
// the Config; reloads take effect through it. Callers must not modify it.
func (c *Config) TLSConfig() *tls.Config { return c.base }

// HSTS returns the Strict-Transport-Security header value, or "" when HSTS is off.
func (c *Config) HSTS() string { return c.hsts }

// Reload re-reads every file. On error the running certificates stay in use.
func (c *Config) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, err := c.load()
	if err != nil {
		c.log.Warn("tls reload failed, keeping current certificates", "error", err)
		return err
	}
	c.cur.Store(g)
	c.log.Info("tls certificates reloaded", "certificates", len(c.certs))
	return nil
}

// Changed reports whether any certificate, key or CA file changed (mtime or size)
// since the last successful load. A file that cannot be stat'ed counts as changed.
func (c *Config) Changed() bool {
	for _, s := range c.cur.Load().stamps {
		fi, err := os.Stat(s.path)
		if err != nil || !fi.ModTime().Equal(s.mod) || fi.Size() != s.size {
			return true
		}
	}
	return false
}

// ReloadIfChanged reloads when Changed; it reports whether a reload was attempted.
// After a failed reload the files still differ, so the next tick retries.
func (c *Config) ReloadIfChanged() (bool, error) {
	if !c.Changed() {
		return false, nil
	}
	return true, c.Reload()
}

// load reads all files into a new generation. Files are stat'ed before they are read,
// so a write racing the read is seen as a change on the next tick.
func (c *Config) load() (*generation, error) {
	g := &generation{exact: map[string]*tls.Certificate{}, wild: map[string]*tls.Certificate{}}
	addStamp := func(path string) {
		if fi, err := os.Stat(path); err == nil {
			g.stamps = append(g.stamps, stamp{path: path, mod: fi.ModTime(), size: fi.Size()})
		} else {
			g.stamps = append(g.stamps, stamp{path: path})
		}
	}
	for i := range c.certs {
		cc := &c.certs[i]
		addStamp(cc.CertFile)
		addStamp(cc.KeyFile)
		cert, err := tls.LoadX509KeyPair(cc.CertFile, cc.KeyFile)
		if err != nil {
			return nil, config.FieldError(cc.At, "cert_file", fmt.Errorf("load certificate: %w", err))
		}
		leaf := cert.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
				return nil, config.FieldError(cc.At, "cert_file", fmt.Errorf("parse certificate: %w", err))
			}
			cert.Leaf = leaf
		}
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if parent, ok := strings.CutPrefix(n, "*."); ok {
				if _, dup := g.wild[parent]; !dup {
					g.wild[parent] = &cert
				}
				continue
			}
			if _, dup := g.exact[n]; !dup { // the first certificate listing a name wins
				g.exact[n] = &cert
			}
		}
		if g.def == nil {
			g.def = &cert
		}
	}
	g.tls = &tls.Config{
		MinVersion:     c.min,
		CipherSuites:   CipherSuites,
		NextProtos:     NextProtos,
		GetCertificate: g.certificate,
	}
	if c.clientCA != "" {
		addStamp(c.clientCA)
		pem, err := os.ReadFile(c.clientCA)
		if err != nil {
			return nil, fmt.Errorf("read client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s", ErrNoCACerts, c.clientCA)
		}
		g.tls.ClientCAs = pool
		g.tls.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return g, nil
}

// certificate picks by SNI: exact, then wildcard for the parent domain, then default.
func (g *generation) certificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(h.ServerName, "."))
	if name != "" {
		if c, ok := g.exact[name]; ok {
			return c, nil
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if c, ok := g.wild[name[i+1:]]; ok {
				return c, nil
			}
		}
	}
	return g.def, nil
}
