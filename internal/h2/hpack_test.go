package h2

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// dynamicEntries lists the dynamic table of d, newest first, by decoding indexed
// representations 62, 63, ... until one is out of range (decoding an index leaves the
// table as it is).
func dynamicEntries(t *testing.T, d *hpack.Decoder) []hpack.HeaderField {
	t.Helper()
	var out []hpack.HeaderField
	for i := uint64(62); i < 62+1000; i++ {
		fs, err := d.DecodeFull(appendInt(nil, 0x80, 7, i))
		if err != nil {
			return out
		}
		out = append(out, fs...)
	}
	t.Fatal("dynamic table longer than 1000 entries")
	return nil
}

// TestLiteralField: literalField's bytes decode, with the standard decoder, to the
// same field, and leave no entry in its table, for short and long names and values,
// Huffman-coded or not (the integer boundary 127 and multi-byte lengths included).
func TestLiteralField(t *testing.T) {
	for _, v := range []string{
		"",
		"25234124b2d571f6dd4e40f19e5dc405",
		strings.Repeat("a", 126),
		strings.Repeat("a", 127),
		strings.Repeat("\xff\xfe", 100), // Huffman would be longer: sent raw
		strings.Repeat("0123456789abcdef", 40),
	} {
		c := &conn{}
		c.henc = hpack.NewEncoder(&c.hbuf)
		c.field(":status", "200")
		c.literalField("x-request-id", v)
		d := hpack.NewDecoder(4096, nil)
		fs, err := d.DecodeFull(c.hbuf.Bytes())
		if err != nil {
			t.Fatalf("value of %d bytes: decode: %v", len(v), err)
		}
		want := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "x-request-id", Value: v}}
		if fmt.Sprint(fs) != fmt.Sprint(want) {
			t.Errorf("value of %d bytes: decoded %v, want %v", len(v), fs, want)
		}
		if e := dynamicEntries(t, d); len(e) != 0 {
			t.Errorf("value of %d bytes: decoder's table holds %v, want nothing", len(v), e)
		}
	}
	// First in a block it is indexed (a pending table size update must come first).
	c := &conn{}
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.literalField("x-request-id", "abc")
	d := hpack.NewDecoder(4096, nil)
	if _, err := d.DecodeFull(c.hbuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if e := dynamicEntries(t, d); len(e) != 1 || e[0].Name != "x-request-id" {
		t.Errorf("first in its block: table %v, want the field indexed", e)
	}
}

// TestUnindexedFieldsOverTheWire: with Options.UnindexedFields naming X-Request-Id,
// responses carry each stream's own request ID to a real client connection and the
// client's HPACK table never holds one; a field not named is still indexed.
func TestUnindexedFieldsOverTheWire(t *testing.T) {
	n := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++ // streams below are sequential
		w.Header().Set("X-Request-Id", fmt.Sprintf("req-%032d", n))
		w.Header().Set("X-Backend", "b1")
		io.WriteString(w, "ok")
	})
	addr, _ := serveTest(t, h, Options{UnindexedFields: []string{"X-Request-Id"}})
	fr := dialPreface(t, addr)
	dec := hpack.NewDecoder(4096, nil)
	fr.ReadMetaHeaders = dec
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var req bytes.Buffer
	enc := hpack.NewEncoder(&req)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := uint32(1); i <= 5; i += 2 {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: i, BlockFragment: req.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		var got string
		for got == "" {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				got = f.PseudoValue("status") + " "
				for _, hf := range f.RegularFields() {
					if hf.Name == "x-request-id" {
						got += hf.Value
					}
				}
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			}
		}
		if want := fmt.Sprintf("200 req-%032d", (i+1)/2); got != want {
			t.Errorf("stream %d: status and request ID %q, want %q", i, got, want)
		}
		backend := false
		for _, e := range dynamicEntries(t, dec) {
			if e.Name == "x-request-id" {
				t.Errorf("stream %d: client's table holds %v", i, e)
			}
			backend = backend || e.Name == "x-backend"
		}
		if !backend {
			t.Errorf("stream %d: x-backend not indexed (the option must touch only the named field)", i)
		}
	}
}
