//go:build unix

// Command idleconns measures what an idle HTTP/1.1 keep-alive client connection costs
// a running gantry: it starts `gantry proxy` in front of a loopback backend, opens N
// connections that each complete one request and then stay idle, and reports the
// growth of gantry's resident memory per connection (from /proc/PID/status).
//
//	go build -o /tmp/gantry ./cmd/gantry && go run ./bench/idleconns -gantry /tmp/gantry -n 10000
//
// With -heap FILE it also runs gantry with --pprof and reports the Go runtime's own
// accounting per connection (heap in use, goroutine stacks) before and after, and saves
// a heap profile of the idle state to FILE (go tool pprof -sample_index=inuse_space).
// -settle waits longer before measuring: resident memory freed by connections that
// went quiet is returned to the system gradually by the runtime's scavenger.
// -wake K then sends one request on K of the idle connections, one at a time with the
// server otherwise quiet, and reports the latency of that first request after idling
// (what a parked connection costs when it wakes).
//
// Loopback only; the connections and the process are closed when it ends.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("gantry", "./gantry", "gantry binary")
	n := flag.Int("n", 10000, "idle connections to open")
	engine := flag.String("engine", "fast", "listener engine: fast or standard")
	settle := flag.Duration("settle", 2*time.Second, "wait this long after the last connection before measuring")
	wake := flag.Int("wake", 0, "then time one request on this many of the idle connections")
	heap := flag.String("heap", "", "also save a heap profile of the idle state to this file and report runtime memory stats")
	flag.Parse()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) //nolint:errcheck
	}

	be, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(be, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })) //nolint:errcheck

	probe, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := probe.Addr().String()
	probe.Close()
	cfg := fmt.Sprintf("listeners:\n  web: { address: %q, engine: %s, timeouts: { idle: 10m } }\nupstreams:\n  app: { targets: [%q] }\nroutes:\n  - { name: all, upstream: app }\n", addr, *engine, "http://"+be.Addr().String())
	f, err := os.CreateTemp("", "idleconns-*.yaml")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	f.WriteString(cfg)
	f.Close()
	args := []string{"run", "-c", f.Name(), "--watch=false", "--log-level", "error"}
	pprofAddr := ""
	if *heap != "" {
		probe, _ := net.Listen("tcp", "127.0.0.1:0")
		pprofAddr = probe.Addr().String()
		probe.Close()
		args = append(args, "--pprof", pprofAddr)
	}
	cmd := exec.Command(*bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer cmd.Process.Kill()

	get := func(c net.Conn, br *bufio.Reader) error {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: idle\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			err = get(c, bufio.NewReader(c))
			c.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			log.Fatalf("gantry did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	before := rss(cmd.Process.Pid)
	var msBefore map[string]int64
	if pprofAddr != "" {
		msBefore = memStats(pprofAddr, "")
	}
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if err := get(c, bufio.NewReader(c)); err != nil {
			log.Fatalf("request on connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(*settle) // let the runtime settle (scavenger, GC)
	after := rss(cmd.Process.Pid)
	fmt.Printf("engine=%s connections=%d rss_before=%d KiB rss_after=%d KiB per_connection=%.1f KiB\n",
		*engine, *n, before, after, float64(after-before)/float64(*n))
	if pprofAddr != "" {
		ms := memStats(pprofAddr, *heap)
		for _, k := range []string{"HeapInuse", "HeapIdle", "HeapReleased", "Stack", "MSpan", "OtherSys", "Sys"} {
			fmt.Printf("  %-12s before=%7d KiB after=%7d KiB per_connection=%6.2f KiB\n",
				k, msBefore[k]>>10, ms[k]>>10, float64(ms[k]-msBefore[k])/1024/float64(*n))
		}
	}
	if *wake > 0 {
		lat := make([]time.Duration, 0, *wake)
		for i := 0; i < *wake && i < len(conns); i++ {
			c := conns[i*len(conns) / *wake]
			time.Sleep(5 * time.Millisecond) // the server is quiet before each request
			start := time.Now()
			if err := get(c, bufio.NewReader(c)); err != nil {
				log.Fatalf("request after idling: %v", err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
		fmt.Printf("  first request after idling (%d): p50=%v p90=%v p99=%v max=%v\n", len(lat), q(0.5), q(0.9), q(0.99), lat[len(lat)-1])
	}
	for _, c := range conns {
		c.Close()
	}
}

// memStats reads the runtime.MemStats lines of gantry's heap profile (debug=1), after
// a GC; with file set it first saves the binary heap profile there.
func memStats(addr, file string) map[string]int64 {
	if file != "" {
		resp, err := http.Get("http://" + addr + "/debug/pprof/heap?gc=1")
		if err != nil {
			log.Fatal(err)
		}
		f, err := os.Create(file)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(f, resp.Body)
		resp.Body.Close()
		f.Close()
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// "# HeapInuse = 1234", "# Stack = 1234 / 5678" (in use / from the system)
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = "); ok {
			v, _, _ = strings.Cut(v, " ")
			if x, err := strconv.ParseInt(v, 10, 64); err == nil {
				m[k] = x
			}
		}
	}
	return m
}

// rss returns VmRSS of pid in KiB.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}
