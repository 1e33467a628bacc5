package h1

import "bytes"

// response is the parsed head of an upstream response: views into the upstream
// connection's read buffer, valid until that connection reads again.
type response struct {
	minor         int
	status        int
	reason        []byte
	fields        []field
	contentLength int64 // -1 when absent
	chunked       bool
	close         bool // the upstream will close (or asked us to) after this response
	conn          [maxConnTokens][]byte
	nconn         int
}

func (p *response) reset() {
	f := p.fields[:0]
	*p = response{fields: f, contentLength: -1}
}

// forwarded reports whether f goes on to the client: not hop-by-hop, not named by the
// response's Connection.
func (p *response) forwarded(f *field) bool {
	return !isHopByHop(f.name) && (p.nconn == 0 || !p.listedInConnection(f.name))
}

// listedInConnection reports whether name is an option of the response's Connection.
func (p *response) listedInConnection(name []byte) bool {
	for i := 0; i < p.nconn; i++ {
		if equalFoldBytes(p.conn[i], name) {
			return true
		}
	}
	return false
}

// parseResponseHead is parseRequestHead's counterpart for upstream responses (RFC 9112
// section 4), with the same line rules. A violation returns ok false: the engine
// answers 502 and never forwards a response it cannot frame exactly.
func parseResponseHead(p *response, buf []byte, st *headState, lim *limits) (end int, ok bool) {
	for {
		i := bytes.IndexByte(buf[st.scan:], '\n')
		if i < 0 {
			break
		}
		nl := st.scan + i
		st.scan = nl + 1
		if nl == st.line || buf[nl-1] != '\r' || nl-st.start > lim.maxHeaderBytes {
			return 0, false
		}
		line := buf[st.line : nl-1]
		st.line = st.scan
		if st.n == 0 {
			if !parseStatusLine(p, line) {
				return 0, false
			}
			st.n = 1
			continue
		}
		if len(line) == 0 {
			return st.scan, finishResponse(p, st)
		}
		if st.n > lim.maxHeaderCount {
			return 0, false
		}
		f, ok := parseField(line)
		if !ok || !noteResponseField(p, st, f) {
			return 0, false
		}
		p.fields = append(p.fields, f)
		st.n++
	}
	if len(buf)-st.start > lim.maxHeaderBytes {
		return 0, false
	}
	return 0, true
}

// parseStatusLine parses HTTP/1.x SP 3DIGIT [SP reason-phrase]. The SP before an empty
// reason is optional: some servers omit it and nothing is ambiguous about that.
func parseStatusLine(p *response, line []byte) bool {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return false
	}
	switch line[7] {
	case '0':
		p.minor = 0
	case '1':
		p.minor = 1
	default:
		return false
	}
	if !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) {
		return false
	}
	p.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if p.status < 100 || p.status > 599 {
		return false
	}
	if len(line) > 12 {
		if line[12] != ' ' || !validValue(line[13:]) {
			return false
		}
		p.reason = line[13:]
	}
	return true
}

func noteResponseField(p *response, st *headState, f field) bool {
	switch len(f.name) {
	case 10:
		if equalFold(f.name, "connection") {
			for tok, rest := nextToken(f.value); tok != nil; tok, rest = nextToken(rest) {
				if !isToken(tok) || p.nconn == maxConnTokens {
					return false
				}
				p.conn[p.nconn] = tok
				p.nconn++
			}
		}
	case 14:
		if equalFold(f.name, "content-length") {
			if p.contentLength >= 0 {
				return false
			}
			n, ok := parseDigits(f.value)
			if !ok {
				return false
			}
			p.contentLength = n
		}
	case 17:
		if equalFold(f.name, "transfer-encoding") {
			if st.tes++; st.tes > 1 || !equalFold(f.value, "chunked") {
				return false
			}
			p.chunked = true
		}
	}
	return true
}

func finishResponse(p *response, st *headState) bool {
	if p.chunked && (p.contentLength >= 0 || p.minor == 0) {
		return false
	}
	var closeTok, keepTok bool
	for i := 0; i < p.nconn; i++ {
		switch {
		case equalFold(p.conn[i], "close"):
			closeTok = true
		case equalFold(p.conn[i], "keep-alive"):
			keepTok = true
		}
	}
	p.close = closeTok || p.minor == 0 && !keepTok
	return true
}

// bodyless reports whether a response to method with status has no body regardless
// of its framing headers (RFC 9112 section 6.3 rules 1 and 2).
func bodyless(method string, status int) bool {
	return method == "HEAD" || status < 200 || status == 204 || status == 304
}
