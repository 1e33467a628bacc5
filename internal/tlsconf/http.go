package tlsconf

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/gantrygw/gantry/internal/config"
)

// HSTSValue renders a Strict-Transport-Security value (RFC 6797 section 6.1); nil: "".
func HSTSValue(h *config.HSTS) string {
	if h == nil {
		return ""
	}
	age := h.MaxAge
	if age == 0 {
		age = config.DefaultHSTSMaxAge
	}
	v := "max-age=" + strconv.FormatInt(int64(age.D().Seconds()), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// RedirectHandler answers every request with 308 to the same host and URI over HTTPS
// on httpsPort ("443" or "" leaves the port out). 308 keeps the method and body
// (RFC 9110 section 15.4.9). Hosts that are not plain host names or addresses get 400,
// so the handler never builds a redirect from a malformed Host header.
func RedirectHandler(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !validHost(host) {
			http.Error(w, "bad host", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if httpsPort != "" && httpsPort != "443" {
			host += ":" + httpsPort
		}
		uri := r.URL.RequestURI()
		if !strings.HasPrefix(uri, "/") {
			uri = "/" // "*" and absolute forms never turn into an open redirect
		}
		w.Header().Set("Location", "https://"+host+uri)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
