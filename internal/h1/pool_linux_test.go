//go:build linux

package h1

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gantrygw/gantry/internal/netpoll"
	"github.com/gantrygw/gantry/internal/testbackend"
)

type ignoreReady struct{}

func (ignoreReady) Ready(netpoll.Events) {}

// TestPoolGetNear: with a poller named, get takes the newest idle connection that
// poller serves among the nearScan newest, and the newest of all when none of those is
// its; without one, the newest.
func TestPoolGetNear(t *testing.T) {
	t.Parallel()
	// The upstream holds each connection until the pool's side closes it.
	addr := testbackend.ServeConns(t, testbackend.Listen(t), func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	var ps [2]*netpoll.Poller
	for i := range ps {
		p, err := netpoll.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		ps[i] = p
	}
	pool := newUpstreamPool(64, time.Minute, time.Second)
	t.Cleanup(pool.close)
	// fill pools connections served by ps[on[i]], oldest first.
	fill := func(on ...int) []*upConn {
		var us []*upConn
		now := time.Now()
		for _, k := range on {
			u, err := pool.dial(addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			fd, err := netpoll.FDOf(u.c)
			if err != nil {
				t.Fatal(err)
			}
			if u.lp.reg, err = ps[k].Add(fd, netpoll.Readable, false, ignoreReady{}); err != nil {
				t.Fatal(err)
			}
			pool.put(u, now)
			us = append(us, u)
		}
		return us
	}
	drain := func() {
		for u := pool.get(addr, time.Now(), nil); u != nil; u = pool.get(addr, time.Now(), nil) {
			u.close()
		}
	}

	us := fill(1, 1, 0, 1, 1, 1, 1, 1, 1) // ps[0]'s is 7th newest: within reach
	got := pool.get(addr, time.Now(), ps[0])
	if got != us[2] {
		t.Fatalf("get near ps[0] = conn %p, want its own %p", got, us[2])
	}
	got2 := pool.get(addr, time.Now(), ps[1])
	if got2 == nil || got2.lp.reg.Poller() != ps[1] {
		t.Fatalf("get near ps[1] = %v, want one of ps[1]'s", got2)
	}
	got.close()
	got2.close()
	drain()

	us = fill(0, 1, 1, 1, 1, 1, 1, 1, 1) // ps[0]'s is 9th newest: out of reach
	if got := pool.get(addr, time.Now(), ps[0]); got != us[8] {
		t.Errorf("get near ps[0] = conn %p, want the newest %p", got, us[8])
	}
	drain()

	us = fill(1, 0)
	if got := pool.get(addr, time.Now(), nil); got != us[1] {
		t.Errorf("get = conn %p, want the newest %p", got, us[1])
	}
	if got := pool.get(addr, time.Now(), ps[0]); got != us[0] {
		t.Errorf("get near ps[0] with only ps[1]'s left = %p, want that one %p", got, us[0])
	}
}
