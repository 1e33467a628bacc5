package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/netpoll"
)

// parkEngine starts a Server that answers every request itself ("ok <path>") and parks
// connections idle for about grace, or, with loop, hands idle connections to the
// readiness loop at once (loop_linux.go), which shows them as parked while they idle.
func parkEngine(t *testing.T, o Options, grace time.Duration, loop bool) (*Server, string) {
	t.Helper()
	if !netpoll.Supported() {
		t.Skip("no readiness loop on this platform: connections are never parked")
	}
	o.Handler = &testHandler{route: func(req *Request, d *Decision) {
		d.Kind, d.Status = Answer, 200
		d.Body = append([]byte("ok "), req.Path()...)
	}}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 2 * time.Second
	}
	return engineWith(t, o, func(s *Server) {
		s.setParkAfter(grace)
		if loop && !s.loop {
			t.Skip("no readiness loop for HTTP/1.1 here")
		}
		s.loop, s.pool.loop = loop, loop
	})
}

// idleModes runs f for both ways an idle connection gives up its goroutine: parked,
// and in the readiness loop.
func idleModes(t *testing.T, f func(t *testing.T, loop bool)) {
	for _, loop := range []bool{false, true} {
		name := "park"
		if loop {
			name = "loop"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, loop)
		})
	}
}

// counts returns the tracked connections and how many of them are parked.
func (s *Server) counts() (tracked, parked int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cl := range s.conns {
		if cl.state.Load() == stateParked {
			parked++
		}
	}
	return len(s.conns), parked
}

// waitCounts polls (there is no event to wait on) until the server tracks the given
// numbers of connections, or fails after 5s.
func waitCounts(t *testing.T, s *Server, tracked, parked int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr, pa := s.counts()
		if tr == tracked && pa == parked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts() = %d tracked, %d parked, want %d, %d", tr, pa, tracked, parked)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rawConn) get(path string) {
	r.t.Helper()
	r.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, body := r.response("GET")
	if want := "ok " + path; resp.StatusCode != 200 || body != want {
		r.t.Fatalf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
	}
}

func TestParkedConnServesNextRequest(t *testing.T) {
	t.Parallel()
	idleModes(t, func(t *testing.T, loop bool) {
		for _, tc := range []struct {
			name string
			send func(c *rawConn)
			// open: the client can still send (it did not half-close).
			open bool
		}{
			{name: "request", send: func(c *rawConn) { c.get("/second") }, open: true},
			{name: "head_in_pieces", send: func(c *rawConn) {
				c.send("GET /second HTTP/1.1\r\n")
				time.Sleep(50 * time.Millisecond) // pacing the client: the rest arrives later
				c.send("Host: a\r\n\r\n")
				if resp, body := c.response("GET"); body != "ok /second" {
					t.Fatalf("GET /second = %d %q, want 200 ok /second", resp.StatusCode, body)
				}
			}, open: true},
			{name: "request_then_half_close", send: func(c *rawConn) {
				// The peer's FIN arrives with the request: the hangup must not lose it.
				c.send("GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
				if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if resp, body := c.response("GET"); body != "ok /second" {
					t.Fatalf("GET /second = %d %q, want 200 ok /second", resp.StatusCode, body)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s, addr := parkEngine(t, Options{}, 20*time.Millisecond, loop)
				c := dialRaw(t, addr)
				c.get("/first")
				waitCounts(t, s, 1, 1)
				tc.send(c)
				if !tc.open {
					if !c.closed() {
						t.Error("connection open after the half-closed client's request, want closed")
					}
					waitCounts(t, s, 0, 0)
					return
				}
				waitCounts(t, s, 1, 1)
				c.get("/third") // served again after parking a second time
			})
		}
	})
}

func TestParkedIdleTimeout(t *testing.T) {
	t.Parallel()
	idleModes(t, func(t *testing.T, loop bool) {
		const idle = 600 * time.Millisecond
		s, addr := parkEngine(t, Options{IdleTimeout: idle}, 20*time.Millisecond, loop)
		c := dialRaw(t, addr)
		c.get("/")
		start := time.Now()
		waitCounts(t, s, 1, 1)
		if !c.closed() {
			t.Fatal("parked connection not closed by the idle timeout")
		}
		if el := time.Since(start); el < idle/2 || el > idle+time.Second {
			t.Errorf("closed after %v, want between %v and about %v", el, idle/2, idle)
		}
		waitCounts(t, s, 0, 0)
	})
}

func TestShutdownClosesParked(t *testing.T) {
	t.Parallel()
	idleModes(t, func(t *testing.T, loop bool) {
		s, addr := parkEngine(t, Options{}, 20*time.Millisecond, loop)
		cs := make([]*rawConn, 3)
		for i := range cs {
			cs[i] = dialRaw(t, addr)
			cs[i].get("/")
		}
		waitCounts(t, s, len(cs), len(cs))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown() = %v, want nil", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("Shutdown took %v with only parked connections, want well under 1s", el)
		}
		for i, c := range cs {
			if !c.closed() {
				t.Errorf("connection %d open after Shutdown, want closed", i)
			}
		}
		waitCounts(t, s, 0, 0)
	})
}

func TestPeerCloseWhileParked(t *testing.T) {
	t.Parallel()
	idleModes(t, func(t *testing.T, loop bool) {
		s, addr := parkEngine(t, Options{}, 20*time.Millisecond, loop)
		for _, reset := range []bool{false, true} {
			c := dialRaw(t, addr)
			c.get("/")
			waitCounts(t, s, 1, 1)
			if reset {
				_ = c.c.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			}
			c.c.Close()
			waitCounts(t, s, 0, 0)
		}
	})
}

func TestManyParkedConns(t *testing.T) {
	t.Parallel()
	idleModes(t, func(t *testing.T, loop bool) {
		const n = 500
		s, addr := parkEngine(t, Options{}, 20*time.Millisecond, loop)
		cs := make([]*rawConn, n)
		for i := range cs {
			cs[i] = dialRaw(t, addr)
			cs[i].get(fmt.Sprintf("/%d/a", i))
		}
		waitCounts(t, s, n, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range cs {
			wg.Go(func() {
				path := fmt.Sprintf("/%d/b", i)
				if _, err := io.WriteString(c.c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
					errs <- err
					return
				}
				resp, err := readResponse(c)
				if err != nil || resp != "ok "+path {
					errs <- fmt.Errorf("GET %s = %q, %v, want %q", path, resp, err, "ok "+path)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		waitCounts(t, s, n, n) // every one parked again
		for _, c := range cs {
			c.c.Close()
		}
		waitCounts(t, s, 0, 0)
	})
}

// readResponse reads one response body without failing the test from a goroutine.
func readResponse(c *rawConn) (string, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestParkRaces drives readiness, the idle timeout and Shutdown into each other: many
// connections whose clients send their next request around the moment the sweeper
// closes them. Each request gets its answer or the connection closes; with -race any
// double ownership of a parked connection shows.
func TestParkRaces(t *testing.T) {
	t.Parallel()
	idleModes(t, func(t *testing.T, loop bool) {
		const n, idle = 100, 200 * time.Millisecond
		s, addr := parkEngine(t, Options{IdleTimeout: idle}, 5*time.Millisecond, loop)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rc := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
			wg.Go(func() {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				for j := range 4 {
					// Quiet for 0..~1.5 idle timeouts, spread over the connections.
					time.Sleep(time.Duration((i*7+j*13)%30) * idle / 20) // pacing the client
					path := fmt.Sprintf("/%d/%d", i, j)
					if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
						return // closed by the idle timeout
					}
					body, err := readResponse(rc)
					if err != nil {
						return // closed by the idle timeout before the request was read
					}
					if body != "ok "+path {
						errs <- fmt.Errorf("GET %s = %q, want %q", path, body, "ok "+path)
						return
					}
				}
			})
		}
		time.Sleep(idle) // let some park and some expire before Shutdown joins in
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown() = %v, want nil", err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		waitCounts(t, s, 0, 0)
	})
}
