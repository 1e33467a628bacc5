package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/config"
)

// maxBody is how much of a response body an http check reads for expect_body.
const maxBody = 64 << 10

// httpProbe runs http checks. It owns two transports with keep-alives off: every
// check opens a fresh connection, so a target whose listener died is seen as down
// even if an old pooled connection would still answer, and no idle connections are
// left behind between checks (intervals are seconds apart anyway).
type httpProbe struct {
	path, host string
	body       []byte
	lo, hi     int
	client     *http.Client // http and https
	h2c        *http.Client // h2c targets: HTTP/2 over plaintext, prior knowledge
}

func newHTTPProbe(cfg *config.HealthCheck, lo, hi int, tlsConf *tls.Config) *httpProbe {
	path := cfg.Path
	if path == "" {
		path = DefaultPath
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if tlsConf != nil {
		tlsConf = tlsConf.Clone()
	}
	if cfg.Host != "" && (tlsConf == nil || tlsConf.ServerName == "") {
		// A virtual-hosted https target is usually addressed by IP but certified for
		// its host name: send that as SNI and verify against it, as the Host header says.
		if tlsConf == nil {
			tlsConf = &tls.Config{}
		}
		tlsConf.ServerName = hostOnly(cfg.Host)
	}
	tr := &http.Transport{
		Proxy:             nil, // checks go to the target itself, never via HTTP_PROXY
		DisableKeepAlives: true,
		TLSClientConfig:   tlsConf,
	}
	h2 := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetUnencryptedHTTP2(true)
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &httpProbe{
		path:   path,
		host:   cfg.Host,
		body:   []byte(cfg.ExpectBody),
		lo:     lo,
		hi:     hi,
		client: &http.Client{Transport: tr, CheckRedirect: noRedirect},
		h2c:    &http.Client{Transport: h2, CheckRedirect: noRedirect},
	}
}

// probe GETs the check path; it passes on a status within [lo, hi] and, when
// expect_body is set, that text within the first 64KiB of the body. Redirects are not
// followed: a 3xx is judged as the target's own answer.
func (p *httpProbe) probe(ctx context.Context, t *balancer.Target) error {
	client, scheme := p.client, "http"
	switch t.Scheme {
	case "https":
		scheme = "https"
	case "h2c":
		client = p.h2c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+t.Addr+p.path, nil)
	if err != nil {
		return fmt.Errorf("%w: build request: %w", ErrCheckFailed, err)
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", "gantry-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckFailed, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < p.lo || resp.StatusCode > p.hi {
		return fmt.Errorf("%w: status %d, want %d-%d", ErrCheckFailed, resp.StatusCode, p.lo, p.hi)
	}
	if len(p.body) == 0 {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: read body: %w", ErrCheckFailed, err)
	}
	if !bytes.Contains(b, p.body) {
		return fmt.Errorf("%w: body lacks %q in its first %d bytes", ErrCheckFailed, p.body, maxBody)
	}
	return nil
}

// hostOnly strips a port from a Host header value.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

func (p *httpProbe) close() {
	p.client.CloseIdleConnections()
	p.h2c.CloseIdleConnections()
}

// ParseStatusRange parses expect_status: "" (200-399), one code "204" or a range
// "200-299", codes within 100-599.
func ParseStatusRange(s string) (lo, hi int, err error) {
	if s = strings.TrimSpace(s); s == "" {
		s = DefaultExpectStatus
	}
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("expect_status %q: want a code or a range like 200-399 within 100-599", s)
	}
	return lo, hi, nil
}
