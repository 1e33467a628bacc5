// Command h1bench runs the h1 engine alone as a round-robin reverse proxy, as a
// candidate for ../shared/bench/run.sh (h1 mode), so the engine's cost per request can
// be compared with nginx before it is wired into the gateway. It is a measuring tool,
// not a product entry point.
//
//	h1bench -listen 127.0.0.1:18080 -backends 127.0.0.1:9001,127.0.0.1:9002
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // -pprof serves profiles for the optimisation argument
	"strings"
	"sync/atomic"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/h1"
)

type roundRobin struct {
	targets []*balancer.Target
	n       atomic.Uint64
}

func (r *roundRobin) Pick(info *balancer.Info) (*balancer.Target, error) {
	for i := 0; i < len(r.targets); i++ {
		t := r.targets[int(r.n.Add(1)%uint64(len(r.targets)))]
		tried := false
		for _, x := range info.Tried {
			tried = tried || x == t
		}
		if !tried {
			return t, nil
		}
	}
	return nil, balancer.ErrNoTarget
}

type handler struct{ rr *roundRobin }

func (h *handler) Route(req *h1.Request, d *h1.Decision) {
	d.Picker = h.rr
	d.Retry = h1.Retry{Attempts: 2, OnConnect: true}
}

func (h *handler) Done(*h1.Request, *h1.Decision, *h1.Result) {}

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to serve on")
	backends := flag.String("backends", "", "comma-separated host:port list")
	pprof := flag.String("pprof", "", "address for net/http/pprof (empty: off)")
	flag.Parse()
	rr := &roundRobin{}
	for _, a := range strings.Split(*backends, ",") {
		if a = strings.TrimSpace(a); a != "" {
			rr.targets = append(rr.targets, &balancer.Target{URL: "http://" + a, Scheme: "http", Addr: a, Weight: 1, State: &balancer.State{}})
		}
	}
	if len(rr.targets) == 0 {
		log.Fatal("h1bench: -backends is empty")
	}
	if *pprof != "" {
		go func() { log.Println(http.ListenAndServe(*pprof, nil)) }()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	s := h1.NewServer(h1.Options{Handler: &handler{rr: rr}, UpstreamIdlePerHost: 256})
	log.Fatal(s.Serve(ln))
}
