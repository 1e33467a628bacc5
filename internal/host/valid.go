package host

// Valid reports whether b is a host (RFC 3986 section 3.2.2: a bracketed IPv6
// literal, or a name of unreserved and sub-delimiter characters) with an optional
// port, without userinfo. "" is valid (RFC 9112 section 3.2 allows an empty Host). A
// percent-escape in a name must stand for a byte of a non-ASCII (UTF-8) name, or be
// "%25": an escaped ASCII byte ("ex%61mple", "%00") only disguises a name from host
// routing, and net/http's URL parser refuses it too.
//
// Written by hand, for string and []byte alike: it runs on every HTTP/1.1 request
// head, where a conversion would cost an allocation.
func Valid[T string | []byte](b T) bool {
	i := 0
	if len(b) > 0 && b[0] == '[' {
		j := 1
		for j < len(b) && b[j] != ']' {
			if c := b[j]; !isHex(c) && c != ':' && c != '.' {
				return false
			}
			j++
		}
		if j == len(b) || j < 3 {
			return false
		}
		i = j + 1
	} else {
		for i < len(b) && b[i] != ':' {
			c := b[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			case c == '-', c == '.', c == '_', c == '~':
			case c == '!', c == '$', c == '&', c == '\'', c == '(', c == ')', c == '*', c == '+', c == ',', c == ';', c == '=':
			case c == '%':
				if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
					return false
				}
				if b[i+1] < '8' && !(b[i+1] == '2' && b[i+2] == '5') { // below %80
					return false
				}
			default:
				return false
			}
			i++
		}
	}
	if i == len(b) {
		return true
	}
	if b[i] != ':' || len(b)-i-1 > 5 {
		return false
	}
	for i++; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
