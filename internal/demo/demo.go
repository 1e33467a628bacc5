package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

//go:embed demo.yaml
var configTemplate string

// Backends are the running demo servers.
type Backends struct {
	servers []*http.Server
	// Addrs maps a backend name (shop1, shop2, orders) to its host:port.
	Addrs map[string]string
}

// Start runs the three demo backends on 127.0.0.1 with free ports.
func Start() (*Backends, error) {
	b := &Backends{Addrs: map[string]string{}}
	for _, name := range []string{"shop1", "shop2", "orders"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Close(context.Background())
			return nil, fmt.Errorf("demo backend %s: %w", name, err)
		}
		srv := &http.Server{Handler: backend(name), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln) //nolint:errcheck // ends with Close
		b.servers = append(b.servers, srv)
		b.Addrs[name] = ln.Addr().String()
	}
	return b, nil
}

// Close stops the backends.
func (b *Backends) Close(ctx context.Context) error {
	var errs []error
	for _, s := range b.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Config renders the demo config for a gateway listening on listen.
func (b *Backends) Config(listen string) []byte {
	r := strings.NewReplacer(
		"{{listen}}", listen,
		"{{shop1}}", b.Addrs["shop1"],
		"{{shop2}}", b.Addrs["shop2"],
		"{{orders}}", b.Addrs["orders"],
	)
	return []byte(r.Replace(configTemplate))
}

// backend answers every request with a JSON description of what it received, so a
// demo user sees routing, rewrites, balancing and the forwarding headers at a glance.
func backend(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n")) //nolint:errcheck
			return
		}
		seen := map[string]string{}
		var keys []string
		for k := range r.Header {
			switch k {
			case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "Via", "X-Request-Id", "X-Canary", "Traceparent", "X-Consumer":
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			seen[k] = r.Header.Get(k)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", name)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{ //nolint:errcheck
			"backend": name,
			"method":  r.Method,
			"path":    r.URL.Path,
			"query":   r.URL.RawQuery,
			"host":    r.Host,
			"headers": seen,
		})
	})
}
