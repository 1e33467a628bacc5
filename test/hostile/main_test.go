package hostile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantrygw/gantry/test/binary"
)

var gantryBin string

func TestMain(m *testing.M) { binary.Main(m, &gantryBin) }

// gantry is a running gantry process and the bound address of each listener.
type gantry struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	exited chan struct{}
	addrs  map[string]string
}

var listeningRE = regexp.MustCompile(`msg=listening listener=(\S+) protocol=http address=(\S+)`)

// startGantry runs `gantry run` on config and waits until every listener in names is
// bound (listeners use port 0; their addresses come from the log).
func startGantry(t *testing.T, config string, names ...string) *gantry {
	t.Helper()
	f := filepath.Join(t.TempDir(), "gantry.yaml")
	if err := os.WriteFile(f, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &gantry{cmd: exec.Command(gantryBin, "run", "-c", f, "--watch=false"), exited: make(chan struct{}), addrs: map[string]string{}}
	stdout, _ := g.cmd.StdoutPipe()
	g.cmd.Stderr = g.cmd.Stdout
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start gantry: %v", err)
	}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			g.mu.Lock()
			g.out.WriteString(sc.Text() + "\n")
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				g.addrs[m[1]] = m[2]
				if len(g.addrs) == len(names) {
					close(found)
				}
			}
			g.mu.Unlock()
		}
		g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			g.cmd.Process.Kill()
			<-g.exited
		}
		if t.Failed() {
			t.Logf("gantry output:\n%s", g.output())
		}
	})
	select {
	case <-found:
	case <-g.exited:
		t.Fatalf("gantry exited before listening:\n%s", g.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("gantry did not listen within 20s:\n%s", g.output())
	}
	return g
}

func (g *gantry) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out.String()
}

func (g *gantry) addr(name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addrs[name]
}

// seen is one request as a recording backend received it.
type seen struct {
	Method, URI, Host string
	Header            http.Header
	Body              []byte
	BodyErr           error // non-nil: the body did not arrive complete
}

// backend is a real HTTP server that records every request it receives, parsed and
// as raw bytes on the wire.
type backend struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	reqs []seen
	raw  bytes.Buffer
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, seen{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: body, BodyErr: err})
		b.mu.Unlock()
		w.Header().Set("X-Backend", name)
		io.WriteString(w, "from "+name)
	}))
	b.Server.Listener = &rawCapture{Listener: b.Server.Listener, b: b}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

// requests returns the requests whose URI contains s.
func (b *backend) requests(s string) []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []seen
	for _, r := range b.reqs {
		if strings.Contains(r.URI, s) {
			out = append(out, r)
		}
	}
	return out
}

// all returns every request received so far.
func (b *backend) all() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.reqs...)
}

// rawContains reports whether s ever crossed the wire to this backend.
func (b *backend) rawContains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Contains(b.raw.Bytes(), []byte(s))
}

type rawCapture struct {
	net.Listener
	b *backend
}

func (l *rawCapture) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &captureConn{Conn: c, b: l.b}, nil
}

type captureConn struct {
	net.Conn
	b *backend
}

func (c *captureConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.b.mu.Lock()
		if c.b.raw.Len() < 16<<20 {
			c.b.raw.Write(p[:n])
		}
		c.b.mu.Unlock()
	}
	return n, err
}

// reply is one response read off a raw connection.
type reply struct {
	Status int
	Header http.Header
	Body   string
	Close  bool // the reply said Connection: close (net/http removes the field)
}

// result is what a raw exchange produced.
type result struct {
	Replies []reply
	Closed  bool // the gateway closed the connection after the replies
}

func (r result) statuses() []int {
	var s []int
	for _, x := range r.Replies {
		s = append(s, x.Status)
	}
	return s
}

// exchange writes raw to addr and reads up to n responses, each within a bounded
// deadline; then, when checkClose is set, waits up to closeWait for the gateway to
// close the connection.
func exchange(t *testing.T, addr, raw string, n int, checkClose bool) result {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write: %v", err)
	}
	return readReplies(t, c, bufio.NewReader(c), n, checkClose)
}

const (
	replyWait = 10 * time.Second // generous: -race on 2 noisy cores
	closeWait = 5 * time.Second
)

func readReplies(t *testing.T, c net.Conn, br *bufio.Reader, n int, checkClose bool) result {
	t.Helper()
	var res result
	for range n {
		c.SetReadDeadline(time.Now().Add(replyWait))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if isClosed(err) {
				res.Closed = true
				return res
			}
			t.Fatalf("reading reply %d: %v", len(res.Replies)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil && !isClosed(err) {
			t.Fatalf("reading reply body: %v", err)
		}
		res.Replies = append(res.Replies, reply{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Close: resp.Close})
		if resp.Close {
			break // the gateway said it closes; nothing may follow
		}
	}
	if checkClose {
		c.SetReadDeadline(time.Now().Add(closeWait))
		_, err := br.ReadByte()
		res.Closed = err != nil && isClosed(err)
		if err == nil {
			t.Errorf("unexpected bytes after the replies %v", res.statuses())
		}
	}
	return res
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// leaks lists what an error body must never show: the backends' addresses, Go error
// text and fmt mistakes.
func leaks(body string, backends ...*backend) []string {
	var found []string
	for _, b := range backends {
		if strings.Contains(body, b.Listener.Addr().String()) {
			found = append(found, b.Listener.Addr().String())
		}
	}
	for _, s := range []string{"dial tcp", "connection refused", "%!", "goroutine ", "panic", "net/http", "i/o timeout", "EOF"} {
		if strings.Contains(body, s) {
			found = append(found, s)
		}
	}
	return found
}
