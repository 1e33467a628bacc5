package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or hang, and that it returns either
// a Config or an *Error, never both and never neither. Seeds: testdata/*.yaml and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	env := ParseOptions{LookupEnv: lookupMap(map[string]string{"A": "1", "HOST": "127.0.0.1"})}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseWith("fuzz.yaml", data, env)
		if err == nil {
			if c == nil {
				t.Fatalf("ParseWith() = nil, nil")
			}
			return
		}
		if c != nil {
			t.Fatalf("ParseWith() returned a Config and error %v", err)
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Fatalf("ParseWith() error = %T %v, want a non-empty *Error", err, err)
		}
	})
}
