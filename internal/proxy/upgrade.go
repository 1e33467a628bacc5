package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gantrygw/gantry/internal/balancer"
	"github.com/gantrygw/gantry/internal/problem"
)

// upgradeLinger bounds how long one direction of an upgraded connection may stay open
// after the other ended, so a peer that never closes cannot hold the connection forever.
const upgradeLinger = 30 * time.Second

// switchProtocols completes an Upgrade (WebSocket and the like): it checks the target
// switched to the requested protocol, hijacks the client connection, relays the 101
// and copies both ways, half-closing each direction when its source ends. It runs
// until both directions end; the request timeout does not apply. One goroutine is
// started for the client→target direction, the only one Serve ever starts.
func (c *call) switchProtocols(res *http.Response, t *balancer.Target, begin time.Time) {
	rtt := time.Since(begin)
	resUp := upgradeType(res.Header)
	back, ok := res.Body.(io.ReadWriteCloser)
	switch {
	case c.upgrade == "" || !asciiEqualFold(resUp, c.upgrade):
		res.Body.Close()
		c.answerBad(t, rtt, errUpgradeMismatch)
		return
	case !ok:
		res.Body.Close()
		c.answerBad(t, rtt, errUpgradeBody)
		return
	}
	conn, brw, err := http.NewResponseController(c.w).Hijack()
	if err != nil {
		back.Close()
		t.State.End(rtt, false)
		c.logf(slog.LevelError, "cannot hijack client connection for upgrade", t, err)
		c.answer(problem.Internal)
		return
	}
	defer conn.Close()
	defer back.Close()
	// The server's read/write deadlines would otherwise cut a long-lived connection.
	_ = conn.SetDeadline(time.Time{})
	// No context.AfterFunc on r.Context() from here: after a hijack net/http may cancel
	// it when the client half-closes, which must not cut the other direction. The
	// copies themselves notice either side closing.

	removeHopByHop(res.Header)
	for k, vv := range c.w.Header() {
		if _, ok := res.Header[k]; !ok {
			res.Header[k] = vv
		}
	}
	res.Header["Connection"] = []string{"Upgrade"}
	res.Header["Upgrade"] = []string{resUp}
	res.Body = nil // Write sends only the status line and header
	c.ex.Status = http.StatusSwitchingProtocols
	if err := res.Write(brw); err == nil {
		err = brw.Flush()
	}
	if err != nil {
		t.State.End(rtt, false)
		c.ex.Reason = "client_closed"
		c.logf(slog.LevelDebug, "client went away during upgrade", t, err)
		return
	}

	var upConn net.Conn
	if b := c.upConn.Load(); b != nil {
		upConn = b.c
	}
	toBack := make(chan error, 1)
	go func() {
		// brw.Reader first: the client may have sent bytes right behind its request.
		_, err := copyPooled(back, brw.Reader)
		if err == nil && closeWrite(upConn) {
			// The client finished; give the target a while to finish too.
			_ = upConn.SetReadDeadline(time.Now().Add(upgradeLinger))
		} else {
			back.Close()
		}
		toBack <- err
	}()
	n, err := copyPooled(conn, back)
	c.ex.BytesOut = n
	if err == nil && closeWrite(conn) {
		// The target finished; give the client a while to finish too.
		_ = conn.SetReadDeadline(time.Now().Add(upgradeLinger))
	} else {
		conn.Close()
	}
	<-toBack
	c.ex.UpstreamDuration = time.Since(c.start)
	t.State.End(rtt, false)
}

// closeWrite half-closes c when it supports it (TCP and TLS connections do).
func closeWrite(c net.Conn) bool {
	cw, ok := c.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}

// copyPooled copies with a pooled buffer. dst is wrapped so io.CopyBuffer cannot hand
// the copy to net.TCPConn.ReadFrom, which allocates its own buffer for non-file sources.
func copyPooled(dst io.Writer, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, src, *bp)
}
