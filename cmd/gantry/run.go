package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/gantrygw/gantry/internal/admin"
	"github.com/gantrygw/gantry/internal/config"
	"github.com/gantrygw/gantry/internal/gateway"
	"github.com/gantrygw/gantry/internal/netpoll"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "", stderr)
	var path string
	fs.StringVar(&path, "c", "gantry.yaml", "config file")
	fs.StringVar(&path, "config", "gantry.yaml", "config file (same as -c)")
	watch := fs.Bool("watch", true, "reload when the config file changes (SIGHUP always reloads)")
	var lf logFlags
	lf.register(fs)
	var pf profileFlags
	pf.register(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	cfg, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return exitFailure
	}
	lf.fromConfig(cfg)
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gantry:", err)
		return exitUsage
	}
	stopProfile, err := pf.start(log)
	if err != nil {
		fmt.Fprintln(stderr, "gantry:", err)
		return exitUsage
	}
	defer stopProfile()
	return serve(serveOptions{cfg: cfg, path: path, watch: *watch, log: log})
}

// fromConfig takes log settings from the config where no flag set them.
func (l *logFlags) fromConfig(cfg *config.Config) {
	if l.format == "" {
		l.format = cfg.Log.Format
	}
	if l.level == "" {
		l.level = cfg.Log.Level
	}
}

// printConfigError prints every config problem on its own line.
func printConfigError(w io.Writer, err error) {
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintln(w, p.String())
		}
		return
	}
	fmt.Fprintln(w, "gantry:", err)
}

type serveOptions struct {
	cfg   *config.Config
	path  string // "" when the config is not from a file (proxy, demo)
	watch bool
	log   *slog.Logger
	// ready, when set, is called once the gateway serves, with the admin address ("" if none).
	ready func(g *gateway.Gateway, admin string)
}

// serve runs the gateway until SIGINT/SIGTERM, reloading on SIGHUP and file changes.
func serve(o serveOptions) int {
	g, err := gateway.New(o.cfg, gateway.Options{Logger: o.log, Version: versionString()})
	if err != nil {
		o.log.Error("gateway did not start", "err", err)
		return exitFailure
	}
	if err := g.Start(); err != nil {
		o.log.Error("gateway did not start", "err", err)
		return exitFailure
	}
	for _, name := range slices.Sorted(maps.Keys(o.cfg.Listeners)) {
		l := o.cfg.Listeners[name]
		o.log.Info("listening", "listener", name, "protocol", l.Protocol, "address", g.Addr(name).String())
	}
	// Whether a poller's batch of upstream sends (and relayed TCP messages) goes to
	// the kernel in one io_uring call: a container's seccomp profile can refuse it, and
	// then they are sent one by one (docs/h1-engine.md, "Readiness loop").
	if ok, why := netpoll.SendPath(); ok {
		o.log.Info("readiness loop", "batched_sends", true)
	} else {
		o.log.Info("readiness loop", "batched_sends", false, "why", why)
	}
	adm, admAddr, code := startAdmin(g, o)
	if code != exitOK {
		g.Shutdown(context.Background()) //nolint:errcheck // not serving yet
		return code
	}
	if o.ready != nil {
		o.ready(g, admAddr)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	reloads := make(chan string, 1)
	requestReload := func(why string) {
		select {
		case reloads <- why:
		default: // one pending reload is enough
		}
	}
	if o.path != "" && o.watch {
		go gateway.WatchFile(ctx, o.path, time.Second, func() { requestReload("file changed") })
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	for {
		select {
		case why := <-reloads:
			reload(g, o, why)
		case s := <-sigs:
			if s == syscall.SIGHUP {
				if o.path == "" {
					o.log.Warn("SIGHUP ignored: no config file to reload")
					continue
				}
				if err := g.ReopenLogs(); err != nil {
					o.log.Error("reopening the access log", "err", err)
				}
				reload(g, o, "SIGHUP")
				continue
			}
			if adm != nil {
				adm.Shutdown(context.Background()) //nolint:errcheck // best effort on exit
			}
			return shutdown(g, o, sigs)
		}
	}
}

func reload(g *gateway.Gateway, o serveOptions, why string) {
	cfg, err := config.Load(o.path)
	if err != nil {
		g.ReloadFailed(err)
		o.log.Error("config reload rejected; still serving the previous config", "trigger", why, "problems", err.Error())
		return
	}
	changes, err := g.Reload(cfg)
	if err != nil {
		o.log.Error("config reload failed; still serving the previous config", "trigger", why, "err", err)
		return
	}
	o.log.Info("config reloaded", "trigger", why, "changes", changes.String(), "hash", cfg.Hash)
}

// shutdown drains gracefully; a second signal stops at once.
func shutdown(g *gateway.Gateway, o serveOptions, sigs <-chan os.Signal) int {
	drain := 30 * time.Second
	for _, l := range o.cfg.Listeners {
		if d := l.Timeouts.Drain.D(); d > 0 && d < drain {
			drain = d
		}
	}
	o.log.Info("shutting down", "drain", drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			o.log.Warn("second signal: stopping now")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := g.Shutdown(ctx); err != nil {
		o.log.Warn("shutdown cut in-flight work short", "err", err)
		return exitFailure
	}
	o.log.Info("stopped")
	return exitOK
}

// startAdmin serves the admin API and dashboard when the config has an admin section.
// The section is read at start; changing it needs a restart.
func startAdmin(g *gateway.Gateway, o serveOptions) (*admin.Server, string, int) {
	ac := o.cfg.Admin
	if ac == nil {
		return nil, "", exitOK
	}
	if err := admin.CheckAddress(ac.Address, ac.Token); err != nil {
		o.log.Error("admin listener refused", "err", err)
		return nil, "", exitFailure
	}
	ln, err := net.Listen("tcp", ac.Address)
	if err != nil {
		o.log.Error("admin listener did not start", "err", err)
		return nil, "", exitFailure
	}
	var reloadFn func() (config.Changes, error)
	if o.path != "" {
		reloadFn = func() (config.Changes, error) {
			cfg, err := config.Load(o.path)
			if err != nil {
				g.ReloadFailed(err)
				return config.Changes{}, err
			}
			return g.Reload(cfg)
		}
	}
	adm := admin.New(admin.Options{Gateway: g, Reload: reloadFn, Token: ac.Token, Logger: o.log, Version: versionString(), Dashboard: true})
	go func() {
		if err := adm.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("admin listener stopped", "err", err)
		}
	}()
	o.log.Info("admin listening", "address", ln.Addr().String(), "dashboard", "http://"+ln.Addr().String()+"/")
	return adm, ln.Addr().String(), exitOK
}
