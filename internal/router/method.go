package router

import "strings"

// Methods are bits in a uint64 so that matching one, and collecting the Allow set of a
// 405 across every route of a path, is an AND and an OR. The nine RFC 9110 methods have
// fixed bits, so their Allow strings come from a table built once; extension methods
// (PURGE, PROPFIND...) get the remaining bits per Router, in sorted order.
const (
	mGET uint64 = 1 << iota
	mHEAD
	mPOST
	mPUT
	mPATCH
	mDELETE
	mOPTIONS
	mCONNECT
	mTRACE

	numStdMethods = 9
	maxExtMethods = 64 - numStdMethods
)

// stdMethodNames is in bit order, which is also the order of names in Allow.
var stdMethodNames = [numStdMethods]string{
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
}

// stdAllow[mask] is the Allow header value for a mask of standard methods.
var stdAllow = func() (t [1 << numStdMethods]string) {
	for mask := range t {
		var names []string
		for b := 0; b < numStdMethods; b++ {
			if mask&(1<<b) != 0 {
				names = append(names, stdMethodNames[b])
			}
		}
		t[mask] = strings.Join(names, ", ")
	}
	return t
}()

func stdMethodBit(m string) uint64 {
	switch m {
	case "GET":
		return mGET
	case "HEAD":
		return mHEAD
	case "POST":
		return mPOST
	case "PUT":
		return mPUT
	case "PATCH":
		return mPATCH
	case "DELETE":
		return mDELETE
	case "OPTIONS":
		return mOPTIONS
	case "CONNECT":
		return mCONNECT
	case "TRACE":
		return mTRACE
	}
	return 0
}

// methodBit returns the bit of method m, 0 for a method no route names (which then
// only matches routes without a methods list).
func (r *Router) methodBit(m string) uint64 {
	if b := stdMethodBit(m); b != 0 {
		return b
	}
	return r.extMethods[m]
}

// requestMethods returns the method bits req may be matched with. A CORS preflight
// (OPTIONS with Origin and Access-Control-Request-Method, Fetch standard section 3.2.2)
// also matches routes that allow the method it asks about, so that the route's cors
// policy can answer it instead of the router answering 405.
func (r *Router) requestMethods(req *Request) uint64 {
	bits := r.methodBit(req.Method)
	if bits == mOPTIONS && req.Header != nil {
		if acrm := req.Header.Get("Access-Control-Request-Method"); acrm != "" && req.Header.Get("Origin") != "" {
			bits |= r.methodBit(acrm)
		}
	}
	return bits
}

// allowString renders mask as an Allow header value. Standard methods come from a
// table; a mask with extension methods is built here (it allocates, rarely).
func (r *Router) allowString(mask uint64) string {
	if mask < 1<<numStdMethods {
		return stdAllow[mask]
	}
	var b strings.Builder
	b.WriteString(stdAllow[mask&(1<<numStdMethods-1)])
	for i, name := range r.extNames {
		if mask&(1<<(numStdMethods+i)) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
	}
	return b.String()
}
