package h2

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// dialPreface connects to addr (closed at the test's end, 10 s deadline), sends the
// client connection preface and returns a Framer on the connection.
func dialPreface(t *testing.T, addr string) *http2.Framer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	return http2.NewFramer(c, c)
}

// blockOutcome is how the server ended a request sent as raw frames.
type blockOutcome struct {
	status string        // :status of the response, "" if none
	rst    http2.ErrCode // RST_STREAM code, when rstSeen
	rstOK  bool
	goAway *http2.ErrCode
}

// sendBlock opens a connection to addr, sends a request on stream 1 as one HEADERS
// frame carrying first and, when rest is not nil, a CONTINUATION frame carrying rest,
// and reads until the stream or the connection ends.
func sendBlock(t *testing.T, addr string, first, rest []byte) blockOutcome {
	t.Helper()
	fr := dialPreface(t, addr)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true, EndHeaders: rest == nil})
	if rest != nil {
		fr.WriteContinuation(1, true, rest)
	}
	var o blockOutcome
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without an answer: %v", err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				o.status = f.PseudoValue("status")
				return o
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				o.rst, o.rstOK = f.ErrCode, true
				return o
			}
		case *http2.GoAwayFrame:
			code := f.ErrCode
			o.goAway = &code
			return o
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		}
	}
}

// encodeBlock HPACK-encodes fields ("name", "value", ...) with a fresh encoder, as
// literals that are never indexed (so no table state carries between requests).
func encodeBlock(kv ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for i := 0; i+1 < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1], Sensitive: true})
	}
	return b.Bytes()
}

// TestHeaderBlockRules: the rules headerBlock applies while decoding, each seen from a
// raw client: what is answered, and that a refused request never reaches the handler.
func TestHeaderBlockRules(t *testing.T) {
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})
	const limit = 1024
	addr, _ := serveTest(t, h, Options{MaxHeaderListSize: limit})
	req := []string{":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/"}
	names := make([]string, 60)
	for i := range names {
		names[i] = string(rune('a' + i%26))
	}
	cases := []struct {
		name        string
		first, rest []byte
		check       func(blockOutcome) bool
		want        string
		handled     bool
	}{
		{name: "valid", first: encodeBlock(req...), want: "200", handled: true,
			check: func(o blockOutcome) bool { return o.status == "200" }},
		{name: "value with LF", first: encodeBlock(append(req, "x-a", "1\nx-b: 2")...), want: "RST_STREAM PROTOCOL_ERROR",
			check: func(o blockOutcome) bool { return o.rstOK && o.rst == http2.ErrCodeProtocol }},
		{name: "value with NUL", first: encodeBlock(append(req, "x-a", "1\x00")...), want: "RST_STREAM PROTOCOL_ERROR",
			check: func(o blockOutcome) bool { return o.rstOK && o.rst == http2.ErrCodeProtocol }},
		{name: "response pseudo-header", first: encodeBlock(append(req, ":status", "200")...), want: "RST_STREAM PROTOCOL_ERROR",
			check: func(o blockOutcome) bool { return o.rstOK && o.rst == http2.ErrCodeProtocol }},
		// :authority is optional, so only the ordering rule refuses this one.
		{name: "pseudo-header after a regular field", first: encodeBlock(":method", "GET", ":scheme", "http", ":path", "/", "x-a", "1", ":authority", "x"),
			want: "RST_STREAM PROTOCOL_ERROR", check: func(o blockOutcome) bool { return o.rstOK && o.rst == http2.ErrCodeProtocol }},
		{name: "pseudo-header twice", first: encodeBlock(append(req, ":path", "/again")...), want: "RST_STREAM PROTOCOL_ERROR",
			check: func(o blockOutcome) bool { return o.rstOK && o.rst == http2.ErrCodeProtocol }},
		// 60 announced trailer names cost 60 fields' overhead (32 bytes each) against
		// their own budget: over the limit, so 431, though the field itself is short.
		{name: "trailer announcing too many fields", first: encodeBlock(append(req, "trailer", strings.Join(names, ","))...), want: "431", handled: false,
			check: func(o blockOutcome) bool { return o.status == "431" }},
		// 20 names (660 bytes) fit the trailer budget though the other fields (about
		// 800 bytes) leave less than that of the main one: the budgets are separate.
		{name: "trailer beside large fields", first: encodeBlock(append(req, "x-pad", strings.Repeat("p", 600), "trailer", strings.Join(names[:20], ","))...),
			want: "200", handled: true, check: func(o blockOutcome) bool { return o.status == "200" }},
		// A fragment more than twice what may still be accepted (the limit and the
		// trailer budget) is not even decoded: GOAWAY, where decoding would find a
		// string over the limit (COMPRESSION_ERROR).
		{name: "fragment over twice the limit", first: encodeBlock(append(req, "x-big", strings.Repeat("v", 5*limit))...), rest: encodeBlock(),
			want: "GOAWAY PROTOCOL_ERROR", check: func(o blockOutcome) bool { return o.goAway != nil && *o.goAway == http2.ErrCodeProtocol }},
		// Split over two frames, a valid block decodes as one.
		{name: "valid over CONTINUATION", first: encodeBlock(req[:4]...), rest: encodeBlock(req[4:]...), want: "200", handled: true,
			check: func(o blockOutcome) bool { return o.status == "200" }},
	}
	for _, tc := range cases {
		before := served.Load()
		o := sendBlock(t, addr, tc.first, tc.rest)
		if !tc.check(o) {
			goAway := "none"
			if o.goAway != nil {
				goAway = o.goAway.String()
			}
			t.Errorf("%s: outcome %+v (GOAWAY %s), want %s", tc.name, o, goAway, tc.want)
		}
		if got := served.Load() != before; got != tc.handled {
			t.Errorf("%s: handler ran %v, want %v", tc.name, got, tc.handled)
		}
	}
}
