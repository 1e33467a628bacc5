package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseOptions adjusts Parse; the zero value is what Load and Parse use.
type ParseOptions struct {
	// LookupEnv resolves ${VAR} references; nil means os.LookupEnv. Tests inject a map.
	LookupEnv func(name string) (string, bool)
}

// Load reads, parses, defaults and validates the config file at path. Problems with
// the content come back together as an *Error (positions name path as given); a file
// that cannot be read gives a wrapped os error. The returned Config has Source = path.
func Load(path string) (*Config, error) {
	return LoadWith(path, ParseOptions{})
}

// LoadWith is Load with options.
func LoadWith(path string, opts ParseOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseWith(path, data, opts)
	if err != nil {
		return nil, err
	}
	c.Source = path
	return c, nil
}

// Parse parses, defaults and validates config bytes (an embedded config, a test
// fixture); name is used in problem positions only, and Source stays "". On any problem
// it returns a nil Config and an *Error holding every problem sorted by position.
func Parse(name string, data []byte) (*Config, error) {
	return ParseWith(name, data, ParseOptions{})
}

// ParseWith is Parse with options.
func ParseWith(name string, data []byte, opts ParseOptions) (*Config, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	ps := &Problems{}
	root := parseYAML(name, data, ps)
	if root == nil {
		return nil, newError(ps)
	}
	d := &decoder{
		file:   name,
		ps:     ps,
		env:    lookup,
		failed: map[string]bool{},
		active: map[*yaml.Node]bool{},
	}
	c := &Config{}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	if d.tooBig {
		return nil, newError(ps)
	}
	if c.At.fields == nil {
		// The root was not a mapping (already a problem) or decoding stopped; still
		// give the root a position so that "at least one listener" points somewhere.
		c.At = At{Pos: Pos{File: name, Line: root.Line, Col: root.Column}, fields: map[string]Pos{}}
	}
	applyDefaults(c)
	vs := &Problems{}
	validate(c, vs)
	ps.List = append(ps.List, dropRestated(vs.List, d.failed)...)
	if len(ps.List) > 0 {
		return nil, newError(ps)
	}
	sum := sha256.Sum256(data)
	c.Hash = hex.EncodeToString(sum[:])
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads exactly one YAML document and returns its root node (the mapping
// below the document node), or nil after recording why there is none.
func parseYAML(name string, data []byte, ps *Problems) *yaml.Node {
	start := Pos{File: name, Line: 1, Col: 1}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.Add(start, "", "config is empty (expected a mapping with at least listeners, upstreams and routes)")
			return nil
		}
		addYAMLError(name, err, ps)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		addYAMLError(name, err, ps)
		return nil
	default:
		ps.Add(Pos{File: name, Line: next.Line, Col: next.Column}, "", "more than one YAML document (one config file holds one document; remove the \"---\" separator)")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		ps.Add(start, "", "config is empty (expected a mapping with at least listeners, upstreams and routes)")
		return nil
	}
	root := doc.Content[0]
	if isNull(root) {
		ps.Add(start, "", "config is empty (expected a mapping with at least listeners, upstreams and routes)")
		return nil
	}
	return root
}

// addYAMLError turns a yaml syntax error into a problem; the library reports a line
// (no column) for most of them.
func addYAMLError(name string, err error, ps *Problems) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		ps.Add(Pos{File: name, Line: line}, "", "invalid YAML: %s", m[2])
		return
	}
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	ps.Add(Pos{File: name}, "", "invalid YAML: %s", msg)
}

// dropRestated removes validation problems about values the decoder already reported
// as undecodable (a "targets: expected a list" needs no "at least one target" beside it).
func dropRestated(list []Problem, failed map[string]bool) []Problem {
	if len(failed) == 0 {
		return list
	}
	out := list[:0]
	for _, p := range list {
		if !underFailed(p.Path, failed) {
			out = append(out, p)
		}
	}
	return out
}

func underFailed(path string, failed map[string]bool) bool {
	if failed[""] {
		// The root itself could not be decoded; nothing else is worth saying.
		return true
	}
	for p := path; p != ""; {
		if failed[p] {
			return true
		}
		i := lastSep(p)
		if i < 0 {
			return false
		}
		p = p[:i]
	}
	return false
}

// lastSep is the index of the last "." or "[" that starts a path element, or -1.
func lastSep(p string) int {
	depth := 0
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case ']':
			depth++
		case '[':
			depth--
			if depth == 0 {
				return i
			}
		case '.':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// newError sorts the problems by position (file, line, column; problems without a
// line first) keeping the order of equal positions, and drops exact repeats.
func newError(ps *Problems) *Error {
	list := slices.Clone(ps.List)
	slices.SortStableFunc(list, func(a, b Problem) int {
		if a.Pos.File != b.Pos.File {
			return strings.Compare(a.Pos.File, b.Pos.File)
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	list = slices.CompactFunc(list, func(a, b Problem) bool { return a == b })
	return &Error{Problems: list}
}
