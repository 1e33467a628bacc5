package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/demo"
	"github.com/gantrygw/gantry/internal/gateway"
)

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the gateway")
	adminAddr := fs.String("admin", "127.0.0.1:9901", "address of the admin API and dashboard (\"\" turns them off)")
	printConfig := fs.Bool("print-config", false, "print the demo config and exit")
	var lf logFlags
	lf.register(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	backends, err := demo.Start()
	if err != nil {
		fmt.Fprintln(stderr, "gantry demo:", err)
		return exitFailure
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		backends.Close(ctx) //nolint:errcheck
	}()
	raw := backends.Config(*listen)
	if *printConfig {
		stdout.Write(raw) //nolint:errcheck
		return exitOK
	}
	cfg, err := config.Parse("demo.yaml (embedded)", raw)
	if err != nil {
		printConfigError(stderr, err)
		return exitFailure
	}
	if *adminAddr != "" {
		cfg.Admin = &config.Admin{Address: *adminAddr}
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gantry:", err)
		return exitUsage
	}
	return serve(serveOptions{cfg: cfg, log: log, ready: func(g *gateway.Gateway, adminAddr string) {
		base := "http://" + g.Addr("web").String()
		if adminAddr != "" {
			fmt.Fprintf(stdout, "\nDashboard: http://%s/   (admin API under /api/v1/, metrics at /metrics)\n", adminAddr)
		}
		fmt.Fprintf(stdout, `
Gantry demo is running: gateway on %[1]s, three demo backends behind it.

Try:
  curl %[1]s/api/products/42                 # param route, rewritten to /products/42
  curl %[1]s/api/products/list               # round robin over shop1 and shop2 (run it twice)
  curl -H 'X-Canary: 1' %[1]s/api/products/42/reviews  # header match sends it to orders
  curl -X POST %[1]s/api/orders/new          # strip_prefix: orders sees /orders/new
  curl -d '{"operation":"ping"}' %[1]s/api/rpc  # routed on a JSON body field
  curl -i %[1]s/nowhere                      # 404 problem+json with a request id
  curl -i -X DELETE %[1]s/api/orders/7       # 405 with Allow

See the config: gantry demo --print-config. Stop with Ctrl-C.
`, base)
	}})
}
