package gateway

import (
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// WatchFile calls onChange whenever the content of path changes, checking every
// interval until ctx is done. It polls rather than using inotify: polling survives the
// editors' write-to-temp-then-rename and Kubernetes' ConfigMap symlink swaps, and one
// stat per second costs nothing. The content hash makes a touch without change silent.
func WatchFile(ctx context.Context, path string, interval time.Duration, onChange func()) {
	sum := func() ([32]byte, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return [32]byte{}, false
		}
		return sha256.Sum256(b), true
	}
	last, _ := sum()
	var lastMod time.Time
	var lastSize int64 = -1
	if fi, err := os.Stat(path); err == nil {
		lastMod, lastSize = fi.ModTime(), fi.Size()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(path)
		if err != nil || (fi.ModTime().Equal(lastMod) && fi.Size() == lastSize) {
			continue
		}
		lastMod, lastSize = fi.ModTime(), fi.Size()
		cur, ok := sum()
		if !ok || cur == last {
			continue
		}
		last = cur
		onChange()
	}
}
