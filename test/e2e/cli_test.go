package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/netpoll"
)

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{name: "help", args: []string{"help"}, want: "Commands:", code: 0},
		{name: "no args", args: nil, want: "Commands:", code: 2},
		{name: "proxy -h", args: []string{"proxy", "-h"}, want: "-to", code: 0},
		{name: "help run", args: []string{"help", "run"}, want: "-c", code: 0},
		{name: "version", args: []string{"version"}, want: "gantry ", code: 0},
		{name: "unknown", args: []string{"frobnicate"}, want: "unknown command", code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, e, code := runGantry(t, tc.args...)
			if code != tc.code || !strings.Contains(o+e, tc.want) {
				t.Fatalf("gantry %v: exit %d, output %q; want exit %d containing %q", tc.args, code, o+e, tc.code, tc.want)
			}
		})
	}
}

// TestExamplesValidate runs `gantry validate` on every YAML file under examples/.
func TestExamplesValidate(t *testing.T) {
	var files []string
	filepath.Walk("../../examples", func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no example configs found under examples/")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			// Secrets an example expects in the environment come from example.env beside it.
			env := exampleEnv(t, filepath.Join(filepath.Dir(f), "example.env"))
			o, e, code := runGantryEnv(t, env, "validate", "-c", f)
			if code != 0 {
				t.Fatalf("gantry validate %s: exit %d\n%s%s", f, code, o, e)
			}
		})
	}
}

// exampleEnv reads KEY=VALUE lines (# comments) from path, if it exists.
func exampleEnv(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && strings.Contains(line, "=") {
			env = append(env, line)
		}
	}
	return env
}

func TestValidateReportsEveryProblemWithPosition(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "broken.yaml")
	os.WriteFile(f, []byte(`listeners:
  web: { address: "127.0.0.1:8080" }
  web2: { address: "127.0.0.1:8080" }
upstreams:
  shop:
    balance: round_robbin
    targets: ["http://127.0.0.1:9001"]
    timeouts: { connect: fast }
routes:
  - name: a
    upstream: shop2
  - name: a
    upstrem: shop
`), 0o644)
	o, _, code := runGantry(t, "validate", "-c", f)
	if code != 1 {
		t.Fatalf("exit = %d, want 1; output:\n%s", code, o)
	}
	want := []string{
		`broken.yaml:3:\d+: .*address`,           // duplicate listener address
		`broken.yaml:6:\d+: .*balance`,           // unknown balancer
		`broken.yaml:8:\d+: .*connect`,           // bad duration
		`broken.yaml:11:\d+: .*unknown upstream`, // unknown upstream
		`broken.yaml:12:\d+: .*name`,             // duplicate route name
		`broken.yaml:13:\d+: .*unknown field`,    // unknown field
	}
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(o) {
			t.Errorf("output lacks a line matching %q:\n%s", w, o)
		}
	}
}

func TestDemoAnswers(t *testing.T) {
	addr := freePort(t)
	start := time.Now()
	p := startGantry(t, "demo", "--listen", addr, "--admin", "127.0.0.1:0")
	resp := waitHTTP(t, "http://"+addr+"/api/products/42", 200)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("demo took %v to answer, want a few seconds", took)
	}
	if !strings.Contains(string(body), `"/products/42"`) {
		t.Fatalf("demo answer %s does not show the rewritten path /products/42", body)
	}
	p.waitOutput(t, `curl http://`+regexp.QuoteMeta(addr))
	// The startup log says which send path the readiness loop takes, as this machine
	// allows, and why sends are not batched when they are not.
	if ok, why := netpoll.SendPath(); ok {
		p.waitOutput(t, `msg="readiness loop" batched_sends=true`)
	} else {
		p.waitOutput(t, `msg="readiness loop" batched_sends=false why=`+regexp.QuoteMeta(strconv.Quote(why)))
	}
	dash := regexp.MustCompile(`Dashboard: (http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(p.waitOutput(t, `Dashboard: http://127\.0\.0\.1:\d+/`))
	resp = waitHTTP(t, dash[1], 200)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<html") {
		t.Fatalf("dashboard %s did not serve a page: %.200s", dash[1], page)
	}
	stop(t, p)
}

// TestStartupSaysWhyNotBatched: with io_uring switched off, the startup log names the
// switch as the reason the readiness loop sends one by one.
func TestStartupSaysWhyNotBatched(t *testing.T) {
	p := startGantryEnv(t, []string{"GANTRY_URING=off"}, "demo", "--listen", freePort(t), "--admin", "127.0.0.1:0")
	p.waitOutput(t, `msg="readiness loop" batched_sends=false why="GANTRY_URING=off"`)
	stop(t, p)
}

// TestProxyBalancesAndForwards: quick mode spreads evenly, forwards X-Forwarded-For,
// and hop-by-hop headers never reach the backend.
func TestProxyBalancesAndForwards(t *testing.T) {
	b1, b2 := newRecorder(t, "b1"), newRecorder(t, "b2")
	addr := freePort(t)
	startGantry(t, "proxy", "--listen", addr, "--to", b1.URL, "--to", b2.URL)
	waitHTTP(t, "http://"+addr+"/", 200).Body.Close()
	n0 := b1.count() + b2.count()
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c1, c2 := b1.count(), b2.count()
	if c1+c2-n0 != 100 || abs(c1-c2) > 1 {
		t.Fatalf("backend counts b1=%d b2=%d, want an even split of 100 (+%d warm-up)", c1, c2, n0)
	}

	// Raw request with hop-by-hop headers, including custom ones named in Connection.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /hop HTTP/1.1\r\nHost: example.test\r\n"+
		"Connection: keep-alive, X-Secret, X-Forwarded-For\r\n"+
		"X-Secret: s3cr3t\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n"+
		"Proxy-Connection: keep-alive\r\nTE: gzip\r\nUpgrade: h2c\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var got *http.Request
	for _, r := range []*recorder{b1, b2} {
		if l := r.last(); l != nil && l.URL.Path == "/hop" {
			got = l
		}
	}
	if got == nil {
		t.Fatalf("no backend saw /hop (status %d)", resp.StatusCode)
	}
	for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Upgrade"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("backend saw hop-by-hop header %s: %q", h, v)
		}
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("backend X-Forwarded-For = %q, want 127.0.0.1 (client XFF not trusted, gateway's own kept)", xff)
	}
	if got.Host != "example.test" {
		t.Errorf("backend Host = %q, want example.test", got.Host)
	}
}

func TestRunReloadsAndKeepsOldOnInvalid(t *testing.T) {
	b1, b2 := newRecorder(t, "b1"), newRecorder(t, "b2")
	addr := freePort(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "gantry.yaml")
	conf := func(target string) string {
		return fmt.Sprintf("listeners:\n  web: { address: %q }\nupstreams:\n  u: { targets: [%q] }\nroutes:\n  - { name: all, upstream: u }\n", addr, target)
	}
	os.WriteFile(f, []byte(conf(b1.URL)), 0o644)
	p := startGantry(t, "run", "-c", f, "--watch=false")
	backendOf := func() string {
		resp := waitHTTP(t, "http://"+addr+"/", 200)
		resp.Body.Close()
		return resp.Header.Get("X-Backend")
	}
	if got := backendOf(); got != "b1" {
		t.Fatalf("X-Backend = %q, want b1", got)
	}
	// Invalid config + SIGHUP: logged, old config keeps serving.
	os.WriteFile(f, []byte(conf(b2.URL)+"  - { name: all, upstream: nope }\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitOutput(t, `reload rejected`)
	if got := backendOf(); got != "b1" {
		t.Fatalf("after invalid reload X-Backend = %q, want b1", got)
	}
	// Valid config + SIGHUP: swapped, and the log says what changed.
	os.WriteFile(f, []byte(conf(b2.URL)), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitOutput(t, `config reloaded.*upstreams`)
	if got := backendOf(); got != "b2" {
		t.Fatalf("after reload X-Backend = %q, want b2", got)
	}
	stop(t, p)
}

func TestRunWatchesFile(t *testing.T) {
	b1, b2 := newRecorder(t, "b1"), newRecorder(t, "b2")
	addr := freePort(t)
	f := filepath.Join(t.TempDir(), "gantry.yaml")
	conf := func(target string) []byte {
		return []byte(fmt.Sprintf("listeners:\n  web: { address: %q }\nupstreams:\n  u: { targets: [%q] }\nroutes:\n  - { name: all, upstream: u }\n", addr, target))
	}
	os.WriteFile(f, conf(b1.URL), 0o644)
	p := startGantry(t, "run", "-c", f)
	waitHTTP(t, "http://"+addr+"/", 200).Body.Close()
	os.WriteFile(f, conf(b2.URL), 0o644)
	p.waitOutput(t, `config reloaded.*file changed`)
	resp := waitHTTP(t, "http://"+addr+"/", 200)
	resp.Body.Close()
	if got := resp.Header.Get("X-Backend"); got != "b2" {
		t.Fatalf("after file change X-Backend = %q, want b2", got)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestSIGTERMDrainsInFlight: a request in flight when SIGTERM arrives still completes,
// new connections are refused afterwards, and the process exits 0.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	slow := newSlowBackend(t, arrived, release)
	addr := freePort(t)
	p := startGantry(t, "proxy", "--listen", addr, "--to", slow)
	waitHTTP(t, "http://"+addr+"/ready", 200).Body.Close()

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-arrived
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitOutput(t, "shutting down")
	close(release)
	r := <-done
	if r.err != nil || r.code != 200 || r.body != "slow done" {
		t.Fatalf("in-flight request = %d %q %v, want 200 \"slow done\"", r.code, r.body, r.err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("gantry did not exit after draining")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code = %d, want 0", code)
	}
}

// newSlowBackend answers /slow only after release is closed; other paths at once.
func newSlowBackend(t *testing.T, arrived chan<- struct{}, release <-chan struct{}) string {
	rec := newRecorder(t, "slow")
	rec.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
			io.WriteString(w, "slow done")
			return
		}
		io.WriteString(w, "ok")
	})
	return rec.URL
}

// TestProxyTCPMode: `gantry proxy --tcp` relays raw TCP to host:port targets, skipping
// one that refuses connections.
func TestProxyTCPMode(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	dead := freePort(t)
	addr := freePort(t)
	startGantry(t, "proxy", "--tcp", "--listen", addr, "--to", dead, "--to", echo.Addr().String())
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; i < 4; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("gantry proxy --tcp never listened: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		msg := fmt.Sprintf("ping %d", i)
		io.WriteString(c, msg)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != msg {
			t.Fatalf("connection %d: echo = %q, %v; want %q", i, got, err, msg)
		}
		i++
	}
}

// TestDemoCommandsDoWhatTheySay runs the curl commands the demo prints (as HTTP
// requests) and checks each does what its comment promises.
func TestDemoCommandsDoWhatTheySay(t *testing.T) {
	addr := freePort(t)
	p := startGantry(t, "demo", "--listen", addr, "--admin", "")
	waitHTTP(t, "http://"+addr+"/api/products/1", 200).Body.Close()
	base := "http://" + addr
	tests := []struct {
		name       string
		method     string
		path       string
		header     string
		body       string
		wantStatus int
		want       string
	}{
		{name: "param route rewritten", method: "GET", path: "/api/products/42", wantStatus: 200, want: `"path": "/products/42"`},
		{name: "canary header", method: "GET", path: "/api/products/42/reviews", header: "1", wantStatus: 200, want: `"backend": "orders"`},
		{name: "no canary header", method: "GET", path: "/api/products/42/reviews", wantStatus: 200, want: `"backend": "shop`},
		{name: "strip prefix", method: "POST", path: "/api/orders/new", wantStatus: 200, want: `"path": "/orders/new"`},
		{name: "json body route", method: "POST", path: "/api/rpc", body: `{"operation":"ping"}`, wantStatus: 200, want: `"backend": "orders"`},
		{name: "404", method: "GET", path: "/nowhere", wantStatus: 404, want: `"reason":"no_route"`},
		{name: "405", method: "DELETE", path: "/api/orders/7", wantStatus: 405, want: `"reason":"method_not_allowed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if tc.header != "" {
				req.Header.Set("X-Canary", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%s %s = %d %s; want %d containing %s", tc.method, tc.path, resp.StatusCode, b, tc.wantStatus, tc.want)
			}
		})
	}
	stop(t, p)
}
