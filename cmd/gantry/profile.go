package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	runpprof "runtime/pprof"
)

// profileFlags let an operator argue every optimisation from a profile:
// --cpuprofile and --memprofile write files covering the whole run (stopped by
// SIGTERM, as the bench harness does); --pprof serves net/http/pprof live.
type profileFlags struct {
	cpu, mem, addr string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&p.mem, "memprofile", "", "write an allocation profile to this file at exit")
	fs.StringVar(&p.addr, "pprof", "", "serve /debug/pprof on this address (keep it on loopback)")
}

// start begins profiling; the returned func stops it and writes the files.
func (p *profileFlags) start(log *slog.Logger) (stop func(), err error) {
	var stops []func()
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := runpprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		stops = append(stops, func() { runpprof.StopCPUProfile(); f.Close() })
	}
	if p.mem != "" {
		runtime.MemProfileRate = 64 << 10
		stops = append(stops, func() {
			f, err := os.Create(p.mem)
			if err != nil {
				log.Error("--memprofile", "err", err)
				return
			}
			defer f.Close()
			if err := runpprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				log.Error("--memprofile", "err", err)
			}
		})
	}
	if p.addr != "" {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return nil, fmt.Errorf("--pprof: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux}
		go srv.Serve(ln) //nolint:errcheck // ends with Close
		log.Info("pprof listening", "address", ln.Addr().String())
		stops = append(stops, func() { srv.Close() })
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}, nil
}
