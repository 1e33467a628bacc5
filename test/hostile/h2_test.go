package hostile

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2peer is a raw HTTP/2 client connection: frames are written as a hostile client
// would, and what the gateway answers is read frame by frame.
type h2peer struct {
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func dialH2(t *testing.T, addr string) *h2peer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(replyWait))
	p := &h2peer{c: c, fr: http2.NewFramer(c, c)}
	p.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	p.fr.AllowIllegalWrites = true
	p.enc = hpack.NewEncoder(&p.buf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatalf("preface: %v", err)
	}
	if err := p.fr.WriteSettings(); err != nil {
		t.Fatalf("settings: %v", err)
	}
	return p
}

// block encodes header fields in order ("name", "value", ...).
func (p *h2peer) block(kv ...string) []byte {
	p.buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), p.buf.Bytes()...)
}

func getFields(path string, extra ...string) []string {
	return append([]string{":method", "GET", ":scheme", "http", ":authority", "gw.test", ":path", path}, extra...)
}

// outcome is how the gateway ended an exchange.
type outcome struct {
	status  string        // :status of a response on the stream, "" if none
	rst     http2.ErrCode // RST_STREAM code on the stream, when rstSeen
	rstSeen bool
	goAway  *http2.ErrCode
	closed  bool // the connection ended
}

// await reads frames until stream id ends (response with END_STREAM, or RST_STREAM),
// a GOAWAY arrives, or the connection ends.
func (p *h2peer) await(t *testing.T, id uint32) outcome {
	t.Helper()
	var o outcome
	for {
		f, err := p.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("no answer within %v", replyWait)
			}
			o.closed = true
			return o
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				if s := f.PseudoValue("status"); s != "" && !strings.HasPrefix(s, "1") {
					o.status = s
				}
				if f.StreamEnded() {
					return o
				}
			}
		case *http2.DataFrame:
			if f.StreamID == id && f.StreamEnded() {
				return o
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				o.rst, o.rstSeen = f.ErrCode, true
				return o
			}
		case *http2.GoAwayFrame:
			code := f.ErrCode
			o.goAway = &code
			return o
		}
	}
}

// TestHostileH2 attacks the h2c prior-knowledge path of an engine listener
// (internal/h2): malformed requests never reach a backend, floods end the connection.
func TestHostileH2(t *testing.T) {
	e := setup(t, "fast")
	protocolError := func(t *testing.T, o outcome) {
		t.Helper()
		if !(o.rstSeen && o.rst == http2.ErrCodeProtocol) && !(o.goAway != nil && *o.goAway == http2.ErrCodeProtocol) {
			t.Errorf("outcome = %+v, want RST_STREAM or GOAWAY PROTOCOL_ERROR", o)
		}
	}
	tests := []struct {
		name   string
		marker string // path marker that must never reach a backend ("" when it may)
		fields []string
		check  func(t *testing.T, o outcome)
	}{
		{name: "valid request", fields: getFields("/public/h2-ok"), check: func(t *testing.T, o outcome) {
			if o.status != "200" {
				t.Errorf("status = %q (%+v), want 200", o.status, o)
			}
		}},
		{name: "missing path", marker: "h2-nopath", fields: []string{":method", "GET", ":scheme", "http", ":authority", "gw.test", "x-m", "/public/h2-nopath"}, check: protocolError},
		{name: "uppercase field name", marker: "h2-upper", fields: getFields("/public/h2-upper", "X-Upper", "1"), check: protocolError},
		{name: "connection field", marker: "h2-conn", fields: getFields("/public/h2-conn", "connection", "keep-alive"), check: protocolError},
		{name: "te gzip", marker: "h2-te", fields: getFields("/public/h2-te", "te", "gzip"), check: protocolError},
		{name: "pseudo after regular", marker: "h2-order", fields: []string{":method", "GET", ":scheme", "http", "x-a", "1", ":path", "/public/h2-order"}, check: protocolError},
		{name: "unknown pseudo", marker: "h2-pseudo", fields: getFields("/public/h2-pseudo", ":status", "200"), check: protocolError},
		{name: "transfer-encoding", marker: "h2-te-chunked", fields: getFields("/public/h2-te-chunked", "transfer-encoding", "chunked"), check: protocolError},
		{name: "path not absolute", marker: "h2-rel", fields: getFields("public/h2-rel"), check: protocolError},
		{name: "authority with space", marker: "h2-authsp", fields: []string{":method", "GET", ":scheme", "http", ":authority", "gw test", ":path", "/public/h2-authsp"}, check: protocolError},
		{name: "authority escaped ascii", marker: "h2-authesc", fields: []string{":method", "GET", ":scheme", "http", ":authority", "gw%2etest", ":path", "/public/h2-authesc"}, check: protocolError},
		{name: "host field escaped ascii", marker: "h2-hostesc", fields: []string{":method", "GET", ":scheme", "http", ":path", "/public/h2-hostesc", "host", "ex%61mple.test"}, check: protocolError},
		{name: "admin without key", marker: "", fields: getFields("/admin/h2-nokey"), check: func(t *testing.T, o outcome) {
			if o.status != "401" {
				t.Errorf("status = %q (%+v), want 401", o.status, o)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := dialH2(t, e.web)
			p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(tc.fields...), EndStream: true, EndHeaders: true})
			tc.check(t, p.await(t, 1))
			if tc.marker != "" {
				for _, b := range e.backends {
					if b.rawContains(tc.marker) {
						t.Errorf("%s backend received %q", b.name, tc.marker)
					}
				}
			}
		})
	}

	goAwayWith := func(t *testing.T, p *h2peer, want http2.ErrCode) {
		t.Helper()
		o := p.await(t, 0)
		if o.goAway == nil || *o.goAway != want {
			t.Errorf("outcome = %+v, want GOAWAY %v", o, want)
		}
	}
	t.Run("oversized headers", func(t *testing.T) {
		t.Parallel()
		p := dialH2(t, e.web)
		big := strings.Repeat("a", 4000)
		var f []string
		for i := range 40 { // 160 KB of fields: beyond max_header_bytes
			f = append(f, "x-big-"+string(rune('a'+i%26))+string(rune('a'+i/26)), big)
		}
		blk := p.block(getFields("/public/h2-big", f...)...)
		first, rest := blk[:16000], blk[16000:]
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true})
		for len(rest) > 0 {
			n := min(len(rest), 16000)
			p.fr.WriteContinuation(1, n == len(rest), rest[:n])
			rest = rest[n:]
		}
		o := p.await(t, 1)
		if o.status != "431" && o.goAway == nil && !o.closed {
			t.Errorf("outcome = %+v, want 431 or the connection ended", o)
		}
		if e.pub.rawContains("h2-big") {
			t.Errorf("public backend received the oversized request")
		}
	})
	t.Run("continuation flood", func(t *testing.T) {
		t.Parallel()
		p := dialH2(t, e.web)
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(getFields("/public/h2-flood")...)})
		// Empty CONTINUATION frames add nothing to the header list; they must still end.
		var err error
		for i := 0; i < 200000 && err == nil; i++ {
			err = p.fr.WriteContinuation(1, false, nil)
		}
		goAwayWith(t, p, http2.ErrCodeEnhanceYourCalm)
	})
	t.Run("rapid reset", func(t *testing.T) {
		t.Parallel()
		p := dialH2(t, e.web)
		var err error
		for id := uint32(1); id < 20000 && err == nil; id += 2 {
			if err = p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.block(getFields("/public/h2-reset")...), EndStream: true, EndHeaders: true}); err == nil {
				err = p.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
		}
		goAwayWith(t, p, http2.ErrCodeEnhanceYourCalm)
		if n := len(e.pub.requests("h2-reset")); n > 2000 {
			t.Errorf("backend saw %d reset requests, want the flood cut short", n)
		}
	})
	t.Run("window overflow", func(t *testing.T) {
		t.Parallel()
		p := dialH2(t, e.web)
		p.fr.WriteWindowUpdate(0, 1<<31-1)
		goAwayWith(t, p, http2.ErrCodeFlowControl)
	})
	t.Run("stream window overflow", func(t *testing.T) {
		t.Parallel()
		p := dialH2(t, e.web)
		p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(getFields("/public/h2-wover")...), EndHeaders: true})
		p.fr.WriteWindowUpdate(1, 1<<31-1)
		if o := p.await(t, 1); !o.rstSeen || o.rst != http2.ErrCodeFlowControl {
			t.Errorf("outcome = %+v, want RST_STREAM FLOW_CONTROL_ERROR", o)
		}
	})
	t.Run("ping flood without reading", func(t *testing.T) {
		t.Parallel()
		p := dialH2(t, e.web)
		p.c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		var err error
		var data [8]byte
		for i := 0; i < 2_000_000 && err == nil; i++ {
			err = p.fr.WritePing(false, data)
		}
		// Either the gateway stopped reading (our writes block until the deadline) or it
		// ended the connection: its memory stays bounded either way.
		if err == nil {
			t.Errorf("2M PINGs written without reading any ACK, want backpressure or a closed connection")
		}
	})
}
