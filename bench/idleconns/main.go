// Command idleconns measures what an idle HTTP/1.1 keep-alive client connection costs
// a running gantry: it starts `gantry proxy` in front of a loopback backend, opens N
// connections that each complete one request and then stay idle, and reports the
// growth of gantry's resident memory per connection (from /proc/PID/status).
//
//	go build -o /tmp/gantry ./cmd/gantry && go run ./bench/idleconns -gantry /tmp/gantry -n 10000
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
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("gantry", "./gantry", "gantry binary")
	n := flag.Int("n", 10000, "idle connections to open")
	engine := flag.String("engine", "fast", "listener engine: fast or standard")
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
	cmd := exec.Command(*bin, "run", "-c", f.Name(), "--watch=false", "--log-level", "error")
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
	time.Sleep(2 * time.Second) // let the runtime settle (scavenger, GC)
	after := rss(cmd.Process.Pid)
	fmt.Printf("engine=%s connections=%d rss_before=%d KiB rss_after=%d KiB per_connection=%.1f KiB\n",
		*engine, *n, before, after, float64(after-before)/float64(*n))
	for _, c := range conns {
		c.Close()
	}
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
