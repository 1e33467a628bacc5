// Command openloop measures latency at a fixed request rate (open loop), the way a
// service sees it when clients do not wait for each other: requests are scheduled at
// rate/s spread over C keep-alive HTTP/1.1 connections, and each latency is counted
// from the request's scheduled time, not from when it was sent, so a stalled response
// also charges the requests queued behind it (no coordinated omission).
//
// The harness (../shared/bench) drives proxies closed-loop with wrk: 64 connections
// as fast as they go, which on a saturated box makes latency ≈ connections ÷
// throughput. openloop asks the other question: at the same offered load, below
// everyone's capacity, how long does a request take through each proxy?
//
//	go run ./bench/openloop -url http://127.0.0.1:8080/ -rate 8000 -d 10s
//	go run ./bench/openloop -url ... -H 'X-Api-Key: k'   # headers on every request
//	bench/latency.sh                      # nginx vs gantry at several rates, interleaved
//
// Output: one line of key=value pairs: the rate asked and achieved, completed requests,
// errors, latency percentiles in milliseconds from the scheduled time, and svc_p50 and
// svc_p99 from the moment the request was written (without the generator's own
// scheduling lateness, which is in the first set for every target alike). Loopback only (the URL's host must
// be a loopback address); the run is bounded by -d.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "http://127.0.0.1:PORT/path to request (GET)")
	rate := flag.Float64("rate", 5000, "requests per second, all connections together")
	conns := flag.Int("c", 64, "keep-alive connections")
	dur := flag.Duration("d", 10*time.Second, "measured duration")
	warm := flag.Duration("warmup", 2*time.Second, "unmeasured run before it")
	var headers headerFlag
	flag.Var(&headers, "H", "`Name: value` header added to every request (repeatable)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		log.Fatalf("-url must be http://HOST:PORT/path, got %q", *target)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-url must name a loopback address, got %q", u.Hostname())
	}
	if *rate <= 0 || *conns <= 0 || *dur <= 0 {
		log.Fatal("-rate, -c and -d must be positive")
	}
	req, err := buildRequest(u, headers)
	if err != nil {
		log.Fatal(err)
	}
	if *warm > 0 {
		run(u.Host, req, *rate, *conns, *warm)
	}
	r := run(u.Host, req, *rate, *conns, *dur)
	fmt.Println(r)
	if r.errors > 0 {
		os.Exit(1)
	}
}

// headerFlag collects repeated -H values.
type headerFlag []string

func (h *headerFlag) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlag) Set(v string) error { *h = append(*h, v); return nil }

// buildRequest is the GET every connection sends: the URL's target and host, then
// each header given as "Name: value" (a token name, a value without CR or LF).
func buildRequest(u *url.URL, headers []string) ([]byte, error) {
	b := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: openloop\r\n")
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("-H %q: want \"Name: value\"", h)
		}
		b = append(b, k+": "+strings.TrimSpace(v)+"\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

type result struct {
	asked, achieved float64
	done, errors    int
	lat             []time.Duration // from the scheduled time, sorted
	svc             []time.Duration // from the write, sorted
}

func (r result) String() string {
	p := func(q float64) string {
		if len(r.lat) == 0 {
			return "-"
		}
		i := int(q * float64(len(r.lat)-1))
		return strconv.FormatFloat(float64(r.lat[i])/1e6, 'f', 3, 64)
	}
	s := func(q float64) string {
		if len(r.svc) == 0 {
			return "-"
		}
		return strconv.FormatFloat(float64(r.svc[int(q*float64(len(r.svc)-1))])/1e6, 'f', 3, 64)
	}
	return fmt.Sprintf("rate=%.0f achieved=%.0f done=%d errors=%d p50=%s p90=%s p99=%s p999=%s max=%s svc_p50=%s svc_p99=%s",
		r.asked, r.achieved, r.done, r.errors, p(0.5), p(0.9), p(0.99), p(0.999), p(1), s(0.5), s(0.99))
}

// run drives the load for d and returns what it measured. Connection i sends at
// start + i·gap/C + k·gap, where gap = C/rate; when a response is late, the next
// request on that connection leaves as soon as it can and is charged from its
// scheduled time.
func run(addr string, req []byte, rate float64, conns int, d time.Duration) result {
	gap := time.Duration(float64(conns) / rate * float64(time.Second))
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(d)
	var mu sync.Mutex
	res := result{asked: rate}
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, svc, errs := drive(addr, req, start.Add(gap*time.Duration(i)/time.Duration(conns)), gap, end)
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.svc = append(res.svc, svc...)
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(res.lat)
	slices.Sort(res.svc)
	res.done = len(res.lat)
	res.achieved = float64(res.done) / d.Seconds()
	return res
}

// drive runs one connection's schedule until end; a failed request counts as an error
// and the connection is dialled again. lat counts from the scheduled time, svc from
// the write (what the proxy alone took, without the generator's own lateness).
func drive(addr string, req []byte, next time.Time, gap time.Duration, end time.Time) (lat, svc []time.Duration, errs int) {
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for ; next.Before(end); next = next.Add(gap) {
		if w := time.Until(next); w > 0 {
			time.Sleep(w)
		}
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err != nil {
				errs++
				c = nil
				continue
			}
			br = bufio.NewReaderSize(c, 32<<10)
		}
		sent := time.Now()
		c.SetDeadline(sent.Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			errs++
			c.Close()
			c = nil
			continue
		}
		if err := readResponse(br); err != nil {
			errs++
			c.Close()
			c = nil
			continue
		}
		now := time.Now()
		lat, svc = append(lat, now.Sub(next)), append(svc, now.Sub(sent))
	}
	return lat, svc, errs
}

// readResponse reads one response framed by Content-Length and fails on any status
// but 200: a benchmark that counts errors as fast answers would flatter the proxy.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(line), "HTTP/1.1 200 ") {
		return fmt.Errorf("status line %q", strings.TrimSpace(string(line)))
	}
	n := int64(-1)
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		k, v, ok := strings.Cut(string(line), ":")
		if ok && strings.EqualFold(k, "content-length") {
			if n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return err
			}
		}
	}
	if n < 0 {
		return errors.New("response without Content-Length")
	}
	_, err = br.Discard(int(n))
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
