package h1

import (
	"github.com/gantrygw/gantry/internal/balancer"
	"strings"
	"testing"
	"time"
)

// TestHostileClient sends requests net/http's client cannot produce and checks both
// the status the client gets and that the backend received no complete request.
func TestHostileClient(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 9000)
	many := strings.Repeat("X-H: v\r\n", 101)
	huge := "X-Big: " + strings.Repeat("b", 70<<10) + "\r\n"
	cases := []struct {
		name   string
		req    string
		status int // 0: the connection is closed without a response
	}{
		{name: "cl_and_te", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", status: 400},
		{name: "te_and_cl", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", status: 400},
		{name: "duplicate_cl_differing", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400},
		{name: "duplicate_cl_same", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", status: 400},
		{name: "cl_list", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", status: 400},
		{name: "cl_plus", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", status: 400},
		{name: "cl_negative", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", status: 400},
		{name: "cl_inner_space", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\nabcdefghijkl", status: 400},
		{name: "cl_hex", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", status: 400},
		{name: "cl_overflow", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", status: 400},
		{name: "cl_empty", req: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", status: 400},
		{name: "te_trailing_junk", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_vertical_tab", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_xchunked", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_chunked_identity", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_gzip_chunked", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_twice", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_in_http10", req: "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_space_before_colon", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", status: 400},
		{name: "te_obs_fold", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", status: 400},
		{name: "obs_fold", req: "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", status: 400},
		{name: "chunk_size_not_hex", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", status: 400},
		{name: "chunk_size_overflow", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n", status: 400},
		{name: "chunk_size_space_ext", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n", status: 400},
		{name: "chunk_ext_too_long", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;" + strings.Repeat("e", 600) + "\r\nabc\r\n0\r\n\r\n", status: 400},
		{name: "chunk_missing_crlf", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", status: 400},
		{name: "chunk_bare_lf", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", status: 400},
		{name: "chunk_bad_trailer", req: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX : y\r\n\r\n", status: 400},
		{name: "cr_in_value", req: "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rX-B: c\r\n\r\n", status: 400},
		{name: "nul_in_value", req: "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", status: 400},
		{name: "nul_in_name", req: "GET / HTTP/1.1\r\nHost: a\r\nX-\x00A: b\r\n\r\n", status: 400},
		{name: "bare_lf_headers", req: "GET / HTTP/1.1\nHost: a\n\n", status: 400},
		{name: "bare_lf_after_header", req: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", status: 400},
		{name: "bare_cr_request_line", req: "GET / HTTP/1.1\rHost: a\r\n\r\n", status: 400},
		{name: "empty_header_name", req: "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", status: 400},
		{name: "request_line_too_long", req: "GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414},
		{name: "request_line_too_long_unfinished", req: "GET /" + long + long, status: 414},
		{name: "too_many_headers", req: "GET / HTTP/1.1\r\nHost: a\r\n" + many + "\r\n", status: 431},
		{name: "headers_too_large", req: "GET / HTTP/1.1\r\nHost: a\r\n" + huge + "\r\n", status: 431},
		{name: "method_not_token", req: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "method_tab", req: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "double_space", req: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "http09", req: "GET /\r\n", status: 400},
		{name: "http2_version", req: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505},
		{name: "http12_version", req: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", status: 505},
		{name: "lowercase_version", req: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "version_garbage", req: "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", status: 400},
		{name: "missing_host", req: "GET / HTTP/1.1\r\nX: y\r\n\r\n", status: 400},
		{name: "duplicate_host", req: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400},
		{name: "host_with_userinfo", req: "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", status: 400},
		{name: "host_with_space", req: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400},
		{name: "host_with_slash", req: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: 400},
		{name: "host_escaped_ascii", req: "GET / HTTP/1.1\r\nHost: ex%61mple.com\r\n\r\n", status: 400},
		{name: "absolute_form_escaped_nul", req: "GET http://%00/ HTTP/1.0\r\n\r\n", status: 400},
		{name: "target_fragment", req: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "target_bad_escape", req: "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "target_non_ascii", req: "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "target_relative", req: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "absolute_form_userinfo", req: "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "asterisk_not_options", req: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "expect_unknown", req: "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", status: 417},
		{name: "too_many_leading_crlf", req: "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
		{name: "connection_not_token", req: "GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n", status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, nil)
			_, addr, _ := proxyTo(t, nil, up.addr())
			c := dialRaw(t, addr)
			c.send(tc.req)
			if tc.status != 0 {
				resp, _ := c.response("GET")
				if resp.StatusCode != tc.status {
					t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
				}
				if !resp.Close {
					t.Errorf("response does not announce Connection: close")
				}
			}
			if !c.closed() {
				t.Errorf("connection still open, want closed")
			}
			if n := up.complete.Load(); n != 0 {
				t.Errorf("upstream completed %d requests, want 0", n)
			}
		})
	}
}

func TestSlowloris(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	p := &listPicker{targets: []*balancer.Target{newTarget(up.addr())}}
	_, addr := engine(t, Options{Handler: &testHandler{picker: p}, ReadHeaderTimeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		name string
		head string
	}{
		{name: "first_request", head: "GET / HTTP/1.1\r\nHost: a\r\n"},
		{name: "nothing_sent", head: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			start := time.Now()
			c.send(tc.head)
			// Trickle a byte every 100ms: progress must not extend the deadline.
			for i := 0; i < 30 && tc.head != ""; i++ {
				time.Sleep(100 * time.Millisecond) // pacing the attack, not synchronising
				if _, err := c.c.Write([]byte("X")); err != nil {
					break
				}
			}
			if !c.closed() {
				t.Fatalf("connection open after trickling, want closed by ReadHeaderTimeout")
			}
			if el := time.Since(start); el > 4*time.Second {
				t.Errorf("closed after %v, want about 300ms", el)
			}
			if n := up.requests.Load(); n != 0 {
				t.Errorf("upstream saw %d requests, want 0", n)
			}
		})
	}
}
