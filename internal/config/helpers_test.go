package config

import (
	"errors"
	"strings"
	"testing"
)

// lookupMap is an injectable environment for ParseOptions.LookupEnv.
func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// problemLines parses src as gantry.yaml and returns the rendered problems, or nil
// when it parsed. It fails the test when the error is not an *Error.
func problemLines(t *testing.T, src string, env map[string]string) []string {
	t.Helper()
	c, err := ParseWith("gantry.yaml", []byte(src), ParseOptions{LookupEnv: lookupMap(env)})
	if err == nil {
		if c == nil {
			t.Fatalf("ParseWith() = nil, nil; want a Config or an error")
		}
		return nil
	}
	if c != nil {
		t.Fatalf("ParseWith() returned a Config and an error %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("ParseWith() error = %T %v, want *Error", err, err)
	}
	return strings.Split(e.Error(), "\n")
}

// mustParse parses src and fails the test on any problem.
func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := ParseWith("gantry.yaml", []byte(src), ParseOptions{LookupEnv: lookupMap(nil)})
	if err != nil {
		t.Fatalf("ParseWith() error:\n%v", err)
	}
	return c
}

// checkLines compares rendered problems line by line.
func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// minimal is the smallest valid config; tests append to or edit copies of it.
const minimal = `listeners:
  web:
    address: ":8080"
upstreams:
  api:
    targets: ["http://127.0.0.1:9001"]
routes:
  - name: r
    upstream: api
`
