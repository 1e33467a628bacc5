//go:build !unix

package l4

import "errors"

// readFD is never reached where there is no splice (spliceOK is Linux-only, and the
// hybrid copy that calls it runs only there); it ends the read with an error should
// that change.
func (st *direction) readFD(fd uintptr) bool {
	st.buf, st.n, st.err = nil, 0, errors.ErrUnsupported
	return true
}
