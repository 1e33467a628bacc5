package admin

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The dashboard tests drive a real headless Chromium (Debian: chromium and
// chromium-driver). Without it they fail, unless GANTRY_SKIP_BROWSER=1 is set.

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/dashboard.png from the dashboard under load")

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test and returns a tab context. Every
// console error, uncaught exception and error log entry is collected in errs.
func browser(t *testing.T, width, height int) (context.Context, *browserLog) {
	t.Helper()
	if os.Getenv("GANTRY_SKIP_BROWSER") == "1" {
		t.Skip("GANTRY_SKIP_BROWSER=1: dashboard browser test skipped")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is needed for the dashboard tests: %s: %v\n"+
			"install it (Debian: apt-get install chromium chromium-driver) or set GANTRY_SKIP_BROWSER=1 to skip", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	bl := &browserLog{}
	// Console subscribes at once (starting the browser); messages are collected until
	// the tab's context ends.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				bl.add(m.String() + " " + m.URL)
			}
		}
	}()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int]("1")); err != nil {
		t.Fatalf("starting Chromium (%s): %v", chromiumPath, err)
	}
	return ctx, bl
}

type browserLog struct {
	mu   sync.Mutex
	errs []string
}

func (b *browserLog) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

func (b *browserLog) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// evalUntil evaluates js in the page until it returns true, or fails the test.
func evalUntil(t *testing.T, ctx context.Context, what, js string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("timed out after %s waiting for %s (last error %v); page:\n%.3000s", timeout, what, err, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load sends requests to the gateway until stop is closed (bounded by max and time).
func load(t *testing.T, stop <-chan struct{}, paths []string, max int, every time.Duration) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		deadline := time.Now().Add(2 * time.Minute)
		for i := 0; i < max && time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(paths[i%len(paths)])
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if every > 0 {
				time.Sleep(every) // pacing the load, not synchronising
			}
		}
	}()
	return &wg
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	ctx, bl := browser(t, 1400, 1000)
	healthy := newBackend(t, "healthy", time.Millisecond, 200)
	doomed := newBackend(t, "doomed", time.Millisecond, 200)
	g := startGateway(t, parseConfig(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop:
    targets: ["%s", "%s"]
    health: { path: /health, interval: 100ms, timeout: 50ms, unhealthy_threshold: 1, healthy_threshold: 1 }
routes:
  - name: shop
    match: { path: "/shop/*" }
    upstream: shop
`, healthy.target(), doomed.target())))
	_, base := startAdmin(t, Options{Gateway: g, Dashboard: true, SampleInterval: 200 * time.Millisecond, Window: 2 * time.Second})

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("Navigate: %v", err)
	}
	evalUntil(t, ctx, "the page to connect", `document.getElementById('conn').textContent === 'live'`, 10*time.Second)
	evalUntil(t, ctx, "both targets listed as healthy",
		`document.querySelectorAll('.card[data-kind=upstream] tr[data-state=healthy]').length === 2`, 10*time.Second)

	stop := make(chan struct{})
	gw := "http://" + g.Addr("web").String()
	wg := load(t, stop, []string{gw + "/shop/a", gw + "/nowhere"}, 100000, 2*time.Millisecond)
	defer func() { close(stop); wg.Wait() }()

	rps := `document.querySelector('.card[data-kind=route][data-name=shop] svg[data-metric=rps]')`
	evalUntil(t, ctx, "the shop route's requests/s chart to get data",
		`(() => { const s = `+rps+`; return !!s && Number(s.dataset.points) >= 2 && Number(s.dataset.max) > 0 && s.querySelector('path.line-rps') !== null })()`, 15*time.Second)
	evalUntil(t, ctx, "the latency chart to get p99 points",
		`(() => { const s = document.querySelector('.card[data-kind=route][data-name=shop] svg[data-metric=latency]'); return !!s && s.querySelector('path.line-p99') !== null })()`, 15*time.Second)
	evalUntil(t, ctx, "the 404s in the recent errors",
		`Array.from(document.querySelectorAll('#errors tbody td')).some(td => td.textContent === 'no_route')`, 10*time.Second)

	doomed.Close() // the backend dies; active checks mark it down
	sel := fmt.Sprintf(`document.querySelector('.card[data-kind=upstream] tr[data-target=%q]')`, doomed.target())
	// The badge colour is read in the same evaluation that sees the row unhealthy: the
	// table is re-rendered on every update, and a later render may already show the
	// target in another state (its freed port can be taken by a parallel test's server,
	// which then answers the health checks).
	evalUntil(t, ctx, "the killed target to show as unhealthy",
		`(() => { const tr = `+sel+`; const b = tr && tr.dataset.state === 'unhealthy' && tr.querySelector('.state-unhealthy'); if (!b) return false; window.__unhealthyBadge = getComputedStyle(b).backgroundColor; return true })()`, 10*time.Second)
	color, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__unhealthyBadge`))
	if err != nil {
		t.Fatal(err)
	}
	if color != "rgb(214, 69, 69)" {
		t.Errorf("unhealthy badge colour = %s, want red rgb(214, 69, 69)", color)
	}
	if errs := bl.list(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
}

func TestDashboardAsksForToken(t *testing.T) {
	t.Parallel()
	ctx, bl := browser(t, 1200, 900)
	b := newBackend(t, "b", 0, 200)
	g := startGateway(t, parseConfig(t, twoTargets(b.target(), b.target()+"/", "")))
	const tok = "dash-token-0123456789"
	_, base := startAdmin(t, Options{Gateway: g, Dashboard: true, Token: tok, SampleInterval: 200 * time.Millisecond})

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/dashboard/")); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, ctx, "the token form", `!document.getElementById('login').hidden && document.getElementById('main').hidden`, 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong"),
		chromedp.Click(chromedp.CSS("#login button")),
	); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, ctx, "the refusal", `document.getElementById('login-error').textContent.includes('refused')`, 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#token"), tok),
		chromedp.Click(chromedp.CSS("#login button")),
	); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, ctx, "the dashboard with data", `document.getElementById('login').hidden && !document.getElementById('main').hidden && document.getElementById('st-version').textContent === 'v0.test'`, 10*time.Second)
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('gantry-admin-token')`))
	if err != nil || stored != tok {
		t.Errorf("sessionStorage token = %q (%v), want the token", stored, err)
	}
	// The only errors allowed are the browser's own notes about the refused requests.
	for _, e := range bl.list() {
		if !strings.Contains(e, "401") {
			t.Errorf("the page logged an error: %s", e)
		}
	}
}

// TestDashboardScreenshot rewrites docs/dashboard.png from the dashboard under load:
// go test ./internal/admin -run TestDashboardScreenshot -args -update-screenshot
func TestDashboardScreenshot(t *testing.T) {
	if !*updateScreenshot {
		t.Skip("run with -update-screenshot to rewrite docs/dashboard.png")
	}
	ctx, _ := browser(t, 1500, 1250)
	fast := newBackend(t, "fast", 2*time.Millisecond, 200)
	slow := newBackend(t, "slow", 12*time.Millisecond, 200)
	orders := newBackend(t, "orders", 5*time.Millisecond, 200)
	orders2 := newBackend(t, "orders2", 5*time.Millisecond, 200)
	flaky := newBackend(t, "flaky", 0, 503)
	dead := newBackend(t, "dead", 0, 200)
	dead.Close() // a target whose server is down: active checks mark it unhealthy
	g := startGateway(t, parseConfig(t, fmt.Sprintf(`
listeners:
  web: { address: "127.0.0.1:0" }
upstreams:
  shop:
    balance: ewma
    targets: ["%s", "%s", "%s"]
    health: { path: /health, interval: 500ms }
  orders:
    targets: ["%s", "%s", "%s"]
    retries: { attempts: 1 }
    outlier: { consecutive_failures: 5, base_ejection: 20s }
routes:
  - name: products
    match: { path: "/api/products/*" }
    upstream: shop
  - name: orders
    match: { path: "/api/orders/*" }
    upstream: orders
`, fast.target(), slow.target(), dead.target(), orders.target(), orders2.target(), flaky.target())))
	_, base := startAdmin(t, Options{Gateway: g, Dashboard: true, SampleInterval: 500 * time.Millisecond, Window: 5 * time.Second, History: time.Minute})
	if err := g.Drain("orders", orders2.target(), true); err != nil { // drained for a deploy
		t.Fatal(err)
	}
	gw := "http://" + g.Addr("web").String()
	stop := make(chan struct{})
	var wgs []*sync.WaitGroup
	for i := range 3 {
		paths := []string{gw + "/api/products/1", gw + "/api/products/2", gw + "/api/orders/7"}
		wgs = append(wgs, load(t, stop, paths, 1_000_000, time.Duration(i+1)*time.Millisecond))
	}
	wgs = append(wgs, load(t, stop, []string{gw + "/nowhere"}, 1_000_000, 400*time.Millisecond))
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(45 * time.Second) // let a minute of charts fill: the point of the picture
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	for _, wg := range wgs {
		wg.Wait()
	}
	out := filepath.Join("..", "..", "docs", "dashboard.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(png))
}
