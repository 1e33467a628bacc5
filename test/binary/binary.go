// Package binary builds the gantry binary once for the suites under test/ that drive it
// as a user would (test/e2e, test/hostile). It imports nothing from internal/.
package binary

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main builds cmd/gantry with the race detector into a temporary folder, stores the
// binary's path in *path, runs the package's tests and exits with their status. Call it
// from TestMain.
func Main(m *testing.M, path *string) {
	dir, err := os.MkdirTemp("", "gantry-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*path = filepath.Join(dir, "gantry")
	build := exec.Command("go", "build", "-race", "-o", *path, "github.com/gantrygw/gantry/cmd/gantry")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gantry:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
