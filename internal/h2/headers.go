package h2

import (
	"errors"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlock decodes the header blocks of one connection (read loop only).
//
// Why not the Framer's ReadMetaHeaders: it allocates a MetaHeadersFrame, a closure
// and a field slice grown from nothing for every block, eight allocations and about
// 700 bytes of a proxied request's 27 (heap profile under h2load). Here the frame and
// the slice are the connection's and reused; the rules are the same (RFC 9113
// sections 4.3, 6.2, 6.10, 8.2 and 8.3):
//   - the decoded size counts against MaxHeaderListSize (RFC 9113 section 6.5.2),
//     the names a "trailer" field announces against a budget of their own; past it
//     the block is still decoded, to keep the HPACK table in step, but the request is
//     marked Truncated and answered 431;
//   - a fragment larger than twice what may still be accepted, or any fragment after
//     an invalid field, ends the connection (PROTOCOL_ERROR): a client cannot make
//     the server decode what it will only throw away;
//   - a field value with CR, LF or NUL, a name that is not a lowercase token, a
//     pseudo-header after a regular field, an unknown or repeated pseudo-header, or
//     request and response pseudo-headers together reset the stream (PROTOCOL_ERROR);
//   - an HPACK decoding error ends the connection (COMPRESSION_ERROR).
//
// The CONTINUATION frames of a block are read here, through the connection's byte
// budget for one header block (budgetReader), and the Framer keeps them contiguous.
type headerBlock struct {
	dec *hpack.Decoder
	// meta is handed to onHeaders, which uses it before the next block is read.
	meta          http2.MetaHeadersFrame
	remain        uint32 // header list bytes still accepted
	trailerRemain uint32 // the same for the fields a "trailer" field announces
	sawRegular    bool
	invalid       error // the first invalid field; decoding goes on silently
}

var (
	errPseudoAfterRegular = errors.New("pseudo-header field after a regular one")
	errMixedPseudo        = errors.New("request and response pseudo-header fields together")
	errInvalidFieldName   = errors.New("invalid header field name")
	errInvalidFieldValue  = errors.New("invalid header field value")
	errPseudo             = errors.New("unknown pseudo-header field")
	errDuplicatePseudo    = errors.New("duplicate pseudo-header field")
)

func (b *headerBlock) init() { b.dec = hpack.NewDecoder(4096, b.emit) }

// emit takes one decoded field.
func (b *headerBlock) emit(hf hpack.HeaderField) {
	if !httpguts.ValidHeaderFieldValue(hf.Value) {
		b.invalid = errInvalidFieldValue // the value may be a secret: not in the error
	}
	if strings.HasPrefix(hf.Name, ":") {
		if b.sawRegular {
			b.invalid = errPseudoAfterRegular
		}
	} else {
		b.sawRegular = true
		if !validWireName(hf.Name) {
			b.invalid = errInvalidFieldName
		}
	}
	if b.invalid != nil {
		b.dec.SetEmitEnabled(false)
		return
	}
	left, size := &b.remain, hf.Size()
	if hf.Name == "trailer" {
		// Each announced name will come back as a trailer field of at least the
		// per-field overhead: charge for them now.
		n := uint32(strings.Count(hf.Value, ",") + 1)
		left, size = &b.trailerRemain, uint32(len(hf.Value))-n+1+n*hpack.HeaderField{}.Size()
	}
	if size > *left {
		b.dec.SetEmitEnabled(false)
		b.meta.Truncated = true
		b.remain, b.trailerRemain = 0, 0
		return
	}
	*left -= size
	b.meta.Fields = append(b.meta.Fields, hf)
}

// read decodes the block hf starts, reading its CONTINUATION frames from
// fr. The result is valid until the next call.
func (b *headerBlock) read(fr *http2.Framer, hf *http2.HeadersFrame, limit uint32) (*http2.MetaHeadersFrame, error) {
	b.meta = http2.MetaHeadersFrame{HeadersFrame: hf, Fields: b.meta.Fields[:0]}
	b.remain, b.trailerRemain = limit, limit
	b.sawRegular, b.invalid = false, nil
	b.dec.SetEmitEnabled(true)
	b.dec.SetMaxStringLength(int(limit))
	id := hf.StreamID
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	for {
		if int64(len(frag)) > 2*(int64(b.remain)+int64(b.trailerRemain)) || b.invalid != nil {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if _, err := b.dec.Write(frag); err != nil {
			return nil, http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		cf, ok := f.(*http2.ContinuationFrame) // the Framer allows nothing else here
		if !ok {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := b.dec.Close(); err != nil {
		return nil, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if b.invalid != nil {
		return nil, http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: b.invalid}
	}
	if err := checkPseudos(b.meta.PseudoFields()); err != nil {
		return nil, http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return &b.meta, nil
}

// checkPseudos: only the pseudo-headers RFC 9113 defines (and :protocol, RFC 8441),
// each at most once, not those of a request and a response together.
func checkPseudos(pf []hpack.HeaderField) error {
	var request, response bool
	for i, hf := range pf {
		switch hf.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			request = true
		case ":status":
			response = true
		default:
			return errPseudo
		}
		for _, prev := range pf[:i] {
			if prev.Name == hf.Name {
				return errDuplicatePseudo
			}
		}
	}
	if request && response {
		return errMixedPseudo
	}
	return nil
}

// validWireName: a token (the same check the response side uses) without uppercase
// letters (RFC 9113 section 8.2.1).
func validWireName(name string) bool {
	return httpguts.ValidHeaderFieldName(name) && !strings.ContainsAny(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}
