package problem

import (
	"net/http"
	"strconv"
	"strings"
)

// Problem is one request-time failure, as the client sees it.
type Problem struct {
	// Status is the HTTP status code.
	Status int
	// Reason is a stable snake_case identifier, e.g. "upstream_timeout".
	Reason string
	// Title is a short human summary, the same for every occurrence of Reason.
	Title string
	// Detail is client-safe specific text; may be empty.
	Detail string
}

// Predefined problems. Copy with With...; do not mutate.
var (
	NoRoute             = Problem{Status: 404, Reason: "no_route", Title: "No route matches the request"}
	MethodNotAllowed    = Problem{Status: 405, Reason: "method_not_allowed", Title: "Method not allowed for this path"}
	BadRequest          = Problem{Status: 400, Reason: "bad_request", Title: "Malformed request"}
	PayloadTooLarge     = Problem{Status: 413, Reason: "body_too_large", Title: "Request body too large"}
	URITooLong          = Problem{Status: 414, Reason: "uri_too_long", Title: "Request URI too long"}
	HeadersTooLarge     = Problem{Status: 431, Reason: "headers_too_large", Title: "Request header fields too large"}
	Unauthorized        = Problem{Status: 401, Reason: "unauthenticated", Title: "Authentication required"}
	Forbidden           = Problem{Status: 403, Reason: "forbidden", Title: "Not allowed"}
	TooManyRequests     = Problem{Status: 429, Reason: "rate_limited", Title: "Too many requests"}
	UpstreamConnect     = Problem{Status: 502, Reason: "upstream_connect_failed", Title: "Could not connect to the upstream"}
	UpstreamBadResponse = Problem{Status: 502, Reason: "upstream_bad_response", Title: "The upstream sent an invalid response"}
	NoTarget            = Problem{Status: 503, Reason: "no_healthy_target", Title: "No healthy upstream target available"}
	CircuitOpen         = Problem{Status: 503, Reason: "circuit_open", Title: "Upstream is at capacity"}
	ShuttingDown        = Problem{Status: 503, Reason: "shutting_down", Title: "The gateway is shutting down"}
	UpstreamTimeout     = Problem{Status: 504, Reason: "upstream_timeout", Title: "The upstream did not answer in time"}
	Internal            = Problem{Status: 500, Reason: "internal_error", Title: "Internal gateway error"}
)

// WithDetail returns a copy of p with Detail set.
func (p Problem) WithDetail(detail string) Problem {
	p.Detail = detail
	return p
}

// Error makes a Problem usable as an error; it returns Reason and Detail.
func (p Problem) Error() string {
	if p.Detail == "" {
		return p.Reason
	}
	return p.Reason + ": " + p.Detail
}

// ContentType is the media type of the JSON rendering (RFC 9457 section 3).
const ContentType = "application/problem+json"

// JSON renders p as a problem+json document. requestID may be empty.
// Hand-written rather than encoding/json: it runs on every gateway-made error and the
// shape is fixed; strings are escaped by appendJSONString.
func (p Problem) JSON(requestID string) []byte {
	b := make([]byte, 0, 160+len(p.Detail))
	b = append(b, `{"type":"https://gantry.dev/problems/`...)
	b = append(b, p.Reason...)
	b = append(b, `","title":`...)
	b = appendJSONString(b, p.Title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	if p.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, p.Detail)
	}
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, p.Reason)
	if requestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, requestID)
	}
	return append(b, "}\n"...)
}

// Write renders p to w: a gRPC status for gRPC clients (Content-Type application/grpc*),
// else problem+json. Headers already set on w (WWW-Authenticate, Retry-After, ...) are kept.
func Write(w http.ResponseWriter, r *http.Request, p Problem, requestID string) {
	h := w.Header()
	if r != nil && IsGRPC(r.Header.Get("Content-Type")) {
		writeGRPC(w, p)
		return
	}
	body := p.JSON(requestID)
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Encoding")
	w.WriteHeader(p.Status)
	if r != nil && r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// IsGRPC reports whether a Content-Type names a gRPC protocol (not gRPC-Web).
func IsGRPC(contentType string) bool {
	return strings.HasPrefix(contentType, "application/grpc") && !strings.HasPrefix(contentType, "application/grpc-web")
}

// GRPCCode maps an HTTP status to the gRPC status code a gateway reports for it
// (following the table in grpc's doc/http-grpc-status-mapping.md, in reverse).
func GRPCCode(status int) int {
	switch status {
	case 400:
		return 3 // INVALID_ARGUMENT
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 413, 429:
		return 8 // RESOURCE_EXHAUSTED
	case 502, 503:
		return 14 // UNAVAILABLE
	case 504:
		return 4 // DEADLINE_EXCEEDED
	}
	return 2 // UNKNOWN
}

func writeGRPC(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(GRPCCode(p.Status)))
	msg := p.Title
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	h.Set("Grpc-Message", percentEncode(msg))
	w.WriteHeader(http.StatusOK) // gRPC errors travel in a 200 trailers-only response
}

// percentEncode escapes a grpc-message value as the gRPC HTTP/2 spec asks.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
