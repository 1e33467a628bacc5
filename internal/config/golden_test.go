package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenEnv is the fixed environment the golden configs are parsed with.
var goldenEnv = map[string]string{"ADMIN_TOKEN": "s3cret", "API_HOST": "127.0.0.1"}

// TestGolden parses every testdata/*.yaml and compares what "gantry validate" would
// print (the problems, or "ok") with testdata/NAME.golden.
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.yaml: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := validateOutput(t, file)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run go test -run TestGolden -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("output for %s =\n%s\nwant\n%s", file, got, want)
			}
		})
	}
}

func validateOutput(t *testing.T, file string) string {
	t.Helper()
	c, err := LoadWith(file, ParseOptions{LookupEnv: lookupMap(goldenEnv)})
	if err == nil {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if c.Source != file || c.Hash != hex.EncodeToString(sum[:]) {
			t.Errorf("Source = %q Hash = %q, want %q and the file's sha256", c.Source, c.Hash, file)
		}
		return "ok\n"
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("LoadWith(%s) error = %T %v, want *Error", file, err, err)
	}
	return e.Error() + "\n"
}

// TestManyProblemsAllReported checks that one broken file reports every problem it
// has (decode and validation alike), not only the first, sorted by position.
func TestManyProblemsAllReported(t *testing.T) {
	t.Parallel()
	_, err := LoadWith(filepath.Join("testdata", "many.yaml"), ParseOptions{LookupEnv: lookupMap(goldenEnv)})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("LoadWith(many.yaml) error = %v, want *Error", err)
	}
	wantPaths := []string{
		"listeners.public",                // unknown field protocl
		"listeners.dup.address",           // duplicate address
		"listeners.db.upstream",           // tcp without upstream
		"upstreams.api.balance",           // unknown balancer
		"upstreams.api.targets[0].url",    // path in target
		"upstreams.api.targets[1].weight", // weight 0
		"upstreams.api.health.expect_status",
		"upstreams.api.health.timeout",
		"upstreams.shop.targets",
		"routes[0].match.path",
		"routes[0].match.methods[0]",
		"routes[1].name",
		"routes[1].upstream",
		"routes[1].timeouts.connect",
		"routes[2].name",
		"routes[2].match.path_regex",
		"admin.token",
		"log.level",
	}
	have := map[string]bool{}
	for i, p := range e.Problems {
		have[p.Path] = true
		if i > 0 {
			prev := e.Problems[i-1].Pos
			if p.Pos.Line < prev.Line || p.Pos.Line == prev.Line && p.Pos.Col < prev.Col {
				t.Errorf("problem %d at %v comes after %v; want position order", i, p.Pos, prev)
			}
		}
	}
	for _, p := range wantPaths {
		if !have[p] {
			t.Errorf("no problem reported at %s; got:\n%v", p, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	var e *Error
	if err == nil || errors.As(err, &e) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(absent) error = %v, want a wrapped os.ErrNotExist", err)
	}
}

func TestParseLeavesSourceEmpty(t *testing.T) {
	t.Parallel()
	c, err := Parse("embedded.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(minimal))
	if c.Source != "" || c.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Parse() Source = %q Hash = %q, want \"\" and %x", c.Source, c.Hash, sum)
	}
}
