package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/testbackend"
)

// splitUpstream is a keep-alive HTTP/1.1 upstream on a real loopback listener that
// answers every request with a Content-Length body of the size named in the path
// (/n/<size>), written the way split says: the head and the body in one write (at
// once, or after a pause longer than fastHead), the head alone and then the body, or
// the body in 1 KiB pieces with pauses. With extra,
// it sends bytes past the framed body, which must keep the connection out of the pool;
// pad adds a field of that many bytes to its heads.
type splitUpstream struct {
	ln    net.Listener
	conns atomic.Int64
	pad   int
}

func newSplitUpstream(t *testing.T, split string, extra bool, pad int) *splitUpstream {
	t.Helper()
	u := &splitUpstream{ln: testbackend.Listen(t), pad: pad}
	testbackend.ServeConns(t, u.ln, func(c net.Conn) {
		u.conns.Add(1)
		u.serve(c, split, extra)
	})
	return u
}

func (u *splitUpstream) serve(c net.Conn, split string, extra bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/n/"))
		body := patterned(n)
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Up: 1\r\nX-Pad: %s\r\n\r\n", n, strings.Repeat("p", u.pad))
		switch split {
		case "one_write":
			msg := append([]byte(head), body...)
			if extra {
				msg = append(msg, "garbage"...)
			}
			_, err = c.Write(msg)
		case "slow_head": // past fastHead: every exchange waits on the small array
			time.Sleep(fastHead + 5*time.Millisecond)
			_, err = c.Write(append([]byte(head), body...))
		case "chunked": // 5000-byte chunks, a trailer
			msg := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n")
			for i := 0; i < len(body); i += 5000 {
				part := body[i:min(i+5000, len(body))]
				msg = append(msg, strconv.FormatInt(int64(len(part)), 16)+"\r\n"...)
				msg = append(msg, part...)
				msg = append(msg, "\r\n"...)
			}
			_, err = c.Write(append(msg, "0\r\nX-Trail: t\r\n\r\n"...))
		case "close": // no framing: the body ends when the connection does
			_, _ = c.Write(append([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nX-Up: 1\r\n\r\n"), body...))
			return
		case "head_then_body":
			if _, err = c.Write([]byte(head)); err == nil {
				time.Sleep(5 * time.Millisecond) // lets the engine read the head alone
				_, err = c.Write(body)
			}
		case "pieces":
			_, err = c.Write([]byte(head))
			for i := 0; err == nil && i < len(body); i += 1024 {
				_, err = c.Write(body[i:min(i+1024, len(body))])
				if i%(8<<10) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// patterned returns n bytes that differ from position to position, so a misplaced or
// repeated byte range shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i*7+i/251)%26)
	}
	return b
}

// TestRelayLengthBodies checks Content-Length responses of sizes around the engine's
// buffer sizes (the 8 KiB write batch, the 32 KiB upstream read buffer and its 512-byte
// headroom, the upstream connection's 1 KiB array), however the upstream splits them,
// with upstream heads larger than that array, with and without response fields that
// make the head too large for the headroom: every body arrives intact after its head,
// and the client and upstream connections stay usable.
func TestRelayLengthBodies(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 6, 8<<10 - 100, 8 << 10, 16 << 10, 32<<10 - 600, 32<<10 - 512, 32 << 10, 32<<10 + 1, 100 << 10}
	cases := []struct {
		name     string
		split    string
		bigAdded bool
		pad      int
	}{
		{name: "one_write", split: "one_write"},
		{name: "one_write_head_over_small_array", split: "one_write", pad: 3 * upSmallBuf},
		{name: "slow_head", split: "slow_head"},
		{name: "slow_head_over_small_array", split: "slow_head", pad: 3 * upSmallBuf},
		{name: "head_then_body_head_over_small_array", split: "head_then_body", pad: 3 * upSmallBuf},
		{name: "one_write_big_head", split: "one_write", bigAdded: true},
		{name: "head_then_body", split: "head_then_body"},
		{name: "pieces", split: "pieces"},
		{name: "pieces_big_head", split: "pieces", bigAdded: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newSplitUpstream(t, tc.split, false, tc.pad)
			added := strings.Repeat("v", 40)
			if tc.bigAdded {
				added = strings.Repeat("v", 2*headRoom)
			}
			_, addr, _ := proxyTo(t, func(_ *Request, d *Decision) {
				d.RespHeader.Add("X-Added", added)
			}, up.ln.Addr().String())
			rc := dialRaw(t, addr)
			for _, n := range sizes {
				rc.send(fmt.Sprintf("GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", n))
				resp, body := rc.response("GET")
				if resp.StatusCode != 200 || !bytes.Equal([]byte(body), patterned(n)) {
					t.Fatalf("GET /n/%d: status %d, body of %d bytes (intact %v), want 200 and %d intact bytes",
						n, resp.StatusCode, len(body), bytes.Equal([]byte(body), patterned(n)), n)
				}
				if got := resp.Header.Get("X-Added"); got != added || resp.Header.Get("X-Up") != "1" || len(resp.Header.Get("X-Pad")) != tc.pad {
					t.Fatalf("GET /n/%d: X-Added of %d bytes, X-Up %q, X-Pad of %d bytes; want %d bytes, 1, %d bytes",
						n, len(got), resp.Header.Get("X-Up"), len(resp.Header.Get("X-Pad")), len(added), tc.pad)
				}
			}
			if got := up.conns.Load(); got != 1 {
				t.Errorf("upstream connections = %d, want 1 (kept alive across sizes)", got)
			}
		})
	}
}

// TestRelayStreamedBodies checks chunked and close-delimited responses of sizes around
// the buffer sizes: relayed intact (re-chunked to the client), trailers kept.
func TestRelayStreamedBodies(t *testing.T) {
	t.Parallel()
	for _, split := range []string{"chunked", "close"} {
		t.Run(split, func(t *testing.T) {
			t.Parallel()
			up := newSplitUpstream(t, split, false, 0)
			_, addr, _ := proxyTo(t, nil, up.ln.Addr().String())
			rc := dialRaw(t, addr)
			for _, n := range []int{0, 6, 16 << 10, 32 << 10, 100 << 10} {
				rc.send(fmt.Sprintf("GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", n))
				resp, body := rc.response("GET")
				if resp.StatusCode != 200 || body != string(patterned(n)) || resp.Header.Get("X-Up") != "1" {
					t.Fatalf("GET /n/%d: status %d, %d body bytes (intact %v), want 200 and %d intact bytes",
						n, resp.StatusCode, len(body), body == string(patterned(n)), n)
				}
				if want := map[string]string{"chunked": "t", "close": ""}[split]; resp.Trailer.Get("X-Trail") != want {
					t.Errorf("GET /n/%d: trailer X-Trail = %q, want %q", n, resp.Trailer.Get("X-Trail"), want)
				}
			}
		})
	}
}

// TestRelayBytesPastBody checks that bytes an upstream sends past the framed body are
// not relayed and that the connection carrying them is not reused.
func TestRelayBytesPastBody(t *testing.T) {
	t.Parallel()
	up := newSplitUpstream(t, "one_write", true, 0)
	_, addr, _ := proxyTo(t, nil, up.ln.Addr().String())
	rc := dialRaw(t, addr)
	for i, n := range []int{6, 16 << 10, 6} {
		rc.send(fmt.Sprintf("GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", n))
		resp, body := rc.response("GET")
		if resp.StatusCode != 200 || body != string(patterned(n)) {
			t.Fatalf("request %d: status %d, %d body bytes, want 200 and %d", i, resp.StatusCode, len(body), n)
		}
	}
	if got := up.conns.Load(); got != 3 {
		t.Errorf("upstream connections = %d, want 3 (none reused after extra bytes)", got)
	}
}
