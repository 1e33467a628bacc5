package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCrossBuild: the binary builds for the other systems people run it on. The
// readiness loops, splice and raw sockets are Linux-only; everything else must keep a
// portable path (a Linux-only call outside a build-tagged file broke the Windows build
// once without any test noticing).
func TestCrossBuild(t *testing.T) {
	for _, target := range [][2]string{{"darwin", "arm64"}, {"windows", "amd64"}, {"freebsd", "amd64"}} {
		t.Run(target[0]+"/"+target[1], func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "gantry")
			cmd := exec.Command("go", "build", "-o", out, ".")
			cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build: %v\n%s", target[0], target[1], err, b)
			}
		})
	}
}
