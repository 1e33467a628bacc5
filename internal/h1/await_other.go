//go:build !linux

package h1

// awaiter is empty off Linux: requests are written and answers read the ordinary way.
type awaiter struct{}

func (u *upConn) initAwait() {}

// writeAwait writes nothing: the caller writes p the ordinary way.
func (u *upConn) writeAwait(p []byte) (int, error) { return 0, nil }

func (u *upConn) read(p []byte) (int, error) { return u.c.Read(p) }
