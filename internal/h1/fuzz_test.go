package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /p?q=1 HTTP/1.1\r\nHost: Example.com:80\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"GET http://h.example/x HTTP/1.1\r\nHost: other\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"\r\nGET /%41 HTTP/1.1\r\nHost: [::1]:8080\r\nX: a\tb\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
}

// FuzzParseRequest checks that the parser never panics and that whatever it accepts,
// re-serialised from its view, is read the same way by net/http's ReadRequest.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Request{}
		st := headState{}
		end, status, _ := parseRequestHead(r, data, &st, &testLimits)
		if end == 0 || status != 0 || r.h2Preface || r.fallback {
			return
		}
		var b bytes.Buffer
		b.WriteString(r.Method() + " " + r.Target() + " HTTP/1." + strconv.Itoa(r.ProtoMinor()) + "\r\n")
		for i := 0; i < r.NumHeaders(); i++ {
			n, v := r.HeaderAt(i)
			b.WriteString(string(n) + ": " + string(v) + "\r\n")
		}
		b.WriteString("\r\n")
		hr, err := http.ReadRequest(bufio.NewReader(&b))
		if err != nil {
			t.Fatalf("accepted %q; net/http rejects its re-serialisation: %v", data[:end], err)
		}
		if hr.Method != r.Method() || hr.RequestURI != r.Target() {
			t.Fatalf("method/target %q %q, net/http %q %q", r.Method(), r.Target(), hr.Method, hr.RequestURI)
		}
		if strings.HasPrefix(r.Target(), "/") {
			// The same path, compared decoded: Path is the target's bytes as sent, and
			// net/http re-escapes bytes it would not have sent raw ('"' becomes %22) in
			// EscapedPath, which is a different spelling, not a different path.
			p, perr := url.PathUnescape(r.Path())
			if perr != nil || hr.URL.RawQuery != r.RawQuery() || hr.URL.Path != p {
				t.Fatalf("path/query %q %q, net/http %q %q (%v)", r.Path(), r.RawQuery(), hr.URL.Path, hr.URL.RawQuery, perr)
			}
		}
		chunked := len(hr.TransferEncoding) == 1 && hr.TransferEncoding[0] == "chunked"
		if (r.ContentLength() == -1) != chunked || !chunked && hr.ContentLength != r.ContentLength() {
			t.Fatalf("framing: length %d, net/http length %d TE %v", r.ContentLength(), hr.ContentLength, hr.TransferEncoding)
		}
		var scratch []byte
		if h := hostOnly([]byte(hr.Host), &scratch); h != r.Host() {
			t.Fatalf("host %q, net/http %q", r.Host(), h)
		}
	})
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 1\n\n",
}

// FuzzParseResponse checks the upstream response parser the same way.
func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &response{}
		p.reset()
		st := headState{}
		end, ok := parseResponseHead(p, data, &st, &testLimits)
		if !ok || end == 0 {
			return
		}
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data[:end])), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("accepted %q; net/http rejects it: %v", data[:end], err)
		}
		if hr.StatusCode != p.status {
			t.Fatalf("status %d, net/http %d", p.status, hr.StatusCode)
		}
		chunked := len(hr.TransferEncoding) == 1 && hr.TransferEncoding[0] == "chunked"
		if p.chunked != chunked {
			t.Fatalf("chunked %v, net/http %v", p.chunked, chunked)
		}
		if !bodyless("GET", p.status) && !p.chunked && hr.ContentLength != p.contentLength {
			t.Fatalf("length %d, net/http %d", p.contentLength, hr.ContentLength)
		}
	})
}

// bytesConn is a net.Conn whose reads come from r (only Read is used by reader).
type bytesConn struct {
	net.Conn
	r io.Reader
}

func (c bytesConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// FuzzChunked checks that the chunked decoder never panics and that what it decodes
// equals net/http's decoding of the same bytes; trailers it keeps parse as headers.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"3\r\nabc\r\n0\r\n\r\n",
		"a;ext=1\r\n0123456789\r\n0\r\nX-T: v\r\n\r\n",
		"3\nabc\r\n0\r\n\r\n",
		"3\r\nabcX\r\n0\r\n\r\n",
		"fffffffffffffffff\r\n",
		"0\r\n\r\n",
		"1\r\na\r\n1;\r\nb\r\n0\r\nA: b\r\nC:d\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		br := &reader{c: bytesConn{r: bytes.NewReader(data)}, buf: make([]byte, readBufSize)}
		cr := &chunkedReader{}
		cr.reset(br)
		n := int(step%64) + 1
		var got []byte
		buf := make([]byte, n)
		for i := 0; i <= len(data); i++ {
			k, err := cr.Read(buf)
			got = append(got, buf[:k]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return // rejected: fine, whatever net/http thinks
			}
		}
		if !cr.done() {
			t.Fatalf("decoder stopped without finishing or failing")
		}
		// next, the copy-free form the relay uses, must decode the same bytes.
		vbr := &reader{c: bytesConn{r: iotest.OneByteReader(bytes.NewReader(data))}, buf: make([]byte, readBufSize)}
		vcr := &chunkedReader{}
		vcr.reset(vbr)
		var viewed []byte
		for i := 0; i <= len(data); i++ {
			v, err := vcr.next()
			viewed = append(viewed, v...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next() failed (%v) where Read() decoded %q", err, got)
			}
		}
		if !bytes.Equal(viewed, got) || !bytes.Equal(vcr.trailer, cr.trailer) {
			t.Fatalf("next() = %q trailer %q, Read() = %q trailer %q", viewed, vcr.trailer, got, cr.trailer)
		}
		want, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data)))
		if err != nil {
			if strings.Contains(err.Error(), "too much non-data") {
				return // net/http's overhead heuristic; our bounds are per line
			}
			t.Fatalf("accepted %q; net/http rejects it: %v", data, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, net/http %q", got, want)
		}
		if len(cr.trailer) > 0 {
			if _, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(cr.trailer, "\r\n"...)))).ReadMIMEHeader(); err != nil {
				t.Fatalf("kept trailer %q does not parse: %v", cr.trailer, err)
			}
		}
	})
}
