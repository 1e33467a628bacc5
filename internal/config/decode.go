package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds how many YAML nodes one decode visits, counting every expansion of
// an alias or merge key again. A config that is legitimately this large does not
// exist; a "billion laughs" document would otherwise make decoding exponential.
const maxNodes = 1_000_000

// decoder turns a yaml.Node tree into the structs of this package by their yaml tags.
// It is strict (unknown keys, duplicate keys and wrong kinds are problems) and keeps
// going after a problem so that one run reports all of them.
type decoder struct {
	file string
	ps   *Problems
	env  func(string) (string, bool)
	// failed holds field paths whose value could not be decoded; validation problems
	// at or below them are dropped, since they would only restate the decode problem.
	failed map[string]bool
	// active holds the alias targets being decoded, to stop a self-referencing alias.
	active map[*yaml.Node]bool
	nodes  int
	// tooBig is set once maxNodes was crossed; decoding then stops quietly.
	tooBig bool
}

// pair is one key/value entry of a mapping after merge keys were resolved.
type pair struct {
	key, val *yaml.Node
}

var (
	typeAt         = reflect.TypeFor[At]()
	typeDuration   = reflect.TypeFor[Duration]()
	typeSize       = reflect.TypeFor[Size]()
	typeTarget     = reflect.TypeFor[Target]()
	typeValueMatch = reflect.TypeFor[ValueMatch]()

	typeYAMLUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	typeTextUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// fail records a problem about the value at path and marks path as failed.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.failed[path] = true
	d.ps.Add(d.pos(n), path, format, args...)
}

// deref follows aliases. It reports false (after recording a problem) for an alias
// that refers to a node being decoded, which would recurse forever.
func (d *decoder) deref(n *yaml.Node, path string) (*yaml.Node, bool) {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.active[n.Alias] {
			d.fail(n, path, "alias *%s refers to itself", n.Value)
			return nil, false
		}
		n = n.Alias
	}
	return n, true
}

// count charges one visited node and reports false once the budget is spent.
func (d *decoder) count(n *yaml.Node, path string) bool {
	if d.tooBig {
		return false
	}
	d.nodes++
	if d.nodes > maxNodes {
		d.tooBig = true
		d.fail(n, path, "config too large: more than %d values after expanding aliases", maxNodes)
		return false
	}
	return true
}

// decode fills v (settable) from n. path is the dotted field path of v.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.count(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		target, ok := d.deref(n, path)
		if !ok {
			return
		}
		d.active[target] = true
		d.decode(target, v, path)
		delete(d.active, target)
		return
	}
	if isNull(n) {
		// An empty value ("key:" or "key: ~") leaves the field unset, so its default applies.
		return
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		// An alias to a node that is being decoded (an ancestor) would never end.
		d.active[n] = true
		defer delete(d.active, n)
	}
	t := v.Type()
	switch t {
	case typeDuration:
		d.decodeDuration(n, v, path)
		return
	case typeSize:
		d.decodeSize(n, v, path)
		return
	case typeTarget:
		if n.Kind == yaml.ScalarNode {
			d.decodeShort(n, v, path, "url", func(s string) { v.Addr().Interface().(*Target).URL = s })
			return
		}
	case typeValueMatch:
		if n.Kind == yaml.ScalarNode {
			d.decodeShort(n, v, path, "exact", func(s string) { v.Addr().Interface().(*ValueMatch).Exact = &s })
			return
		}
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(typeYAMLUnmarshaler) {
		// An escape hatch for types with their own YAML form; they see the raw node
		// (no ${VAR} expansion) and their error becomes a problem at the node.
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n, path, "%s", err)
		}
		return
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(typeTextUnmarshaler) {
		// netip.Prefix, netip.Addr and the like: a scalar in their text form.
		s, ok := d.scalar(n, path, "a string")
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(n, path, "invalid value %q: %s", s, err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path, "a boolean")
		if !ok {
			return
		}
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(n, path, "expected a boolean (true or false), got %q", s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := parseInt(s)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, path, "expected an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := parseInt(s)
		if err != nil || i < 0 || v.OverflowUint(uint64(i)) {
			d.fail(n, path, "expected a non-negative integer, got %q", s)
			return
		}
		v.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || v.OverflowFloat(f) {
			d.fail(n, path, "expected a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		// A field type this decoder does not know is a programmer error in this package,
		// reported as a problem rather than a panic so that a bad build still explains itself.
		d.fail(n, path, "internal error: cannot decode into %s", t)
	}
}

// decodeShort fills a struct written in its scalar short form.
func (d *decoder) decodeShort(n *yaml.Node, v reflect.Value, path, key string, set func(string)) {
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return
	}
	at := v.FieldByName("At").Addr().Interface().(*At)
	at.Pos, at.Path = d.pos(n), path
	at.fields = map[string]Pos{key: d.pos(n)}
	set(s)
}

// scalar returns n's value with ${VAR} expanded; want names the expected kind for the
// problem when n is a mapping or a list.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	s, err := expand(n.Value, d.env)
	if err != nil {
		d.fail(n, path, "%s", err)
		return "", false
	}
	return s, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	fields := structFields(t)
	var at *At
	if f, ok := t.FieldByName("At"); ok && f.Type == typeAt && f.Anonymous {
		at = v.FieldByIndex(f.Index).Addr().Interface().(*At)
		at.Pos, at.Path = d.pos(n), path
		at.fields = map[string]Pos{}
	}
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		i, ok := fields.index[key]
		if !ok {
			d.ps.Add(d.pos(p.key), path, "unknown field %q (known: %s)", key, strings.Join(fields.names, ", "))
			continue
		}
		if at != nil && !isNullValue(p.val) {
			at.fields[key] = d.pos(p.val)
		}
		d.decode(p.val, v.Field(i), joinPath(path, key))
		if at != nil {
			d.recordItems(at, key, p.val)
		}
	}
	// Nested sections that were not written (a listener without timeouts:) still get a
	// place, the enclosing mapping, so problems about their defaults point somewhere.
	for _, key := range fields.names {
		placeAt(v.Field(fields.index[key]), d.pos(n), joinPath(path, key))
	}
}

// placeAt gives a struct value (or the struct a non-nil pointer points to) that the
// decoder did not fill a position and path.
func placeAt(v reflect.Value, pos Pos, path string) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	f, ok := v.Type().FieldByName("At")
	if !ok || f.Type != typeAt || !f.Anonymous {
		return
	}
	at := v.FieldByIndex(f.Index).Addr().Interface().(*At)
	if at.Path == "" && at.Pos == (Pos{}) {
		at.Pos, at.Path = pos, path
	}
}

// recordItems remembers the positions of the elements of a list value (key "on[2]")
// and of the entry values of a mapping value (key "sni.api" or `body["$.a"]`), so that
// validation can point at one item (At.Item, At.Entry).
func (d *decoder) recordItems(at *At, key string, n *yaml.Node) {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, e := range n.Content {
			at.fields[fmt.Sprintf("%s[%d]", key, i)] = d.pos(e)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode {
				at.fields[mapPath(key, k.Value)] = d.pos(n.Content[i+1])
			}
		}
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		placeAt(s.Index(i), d.pos(e), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.fail(n, path, "internal error: cannot decode into %s", t)
		return
	}
	m := reflect.MakeMap(t)
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		e := reflect.New(t.Elem()).Elem()
		d.decode(p.val, e, mapPath(path, key))
		setName(e, key)
		placeAt(e, d.pos(p.val), mapPath(path, key))
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
	}
	v.Set(m)
}

// setName gives a map entry whose struct has `Name string yaml:"-"` its key as Name
// (listeners, upstreams, consumers), so that a value carries its identity.
func setName(e reflect.Value, key string) {
	if e.Kind() == reflect.Pointer {
		if e.IsNil() {
			// "name:" with an empty value still declares the entry.
			if e.Type().Elem().Kind() != reflect.Struct {
				return
			}
			e.Set(reflect.New(e.Type().Elem()))
		}
		e = e.Elem()
	}
	if e.Kind() != reflect.Struct {
		return
	}
	f, ok := e.Type().FieldByName("Name")
	if !ok || f.Type.Kind() != reflect.String || f.Tag.Get("yaml") != "-" {
		return
	}
	e.FieldByIndex(f.Index).SetString(key)
}

// pairs returns a mapping's entries in file order, with keys of "<<" merge keys
// added where the mapping does not set them itself. Explicit duplicate keys and
// non-string keys are problems.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			var ok bool
			if k, ok = d.deref(k, path); !ok {
				continue
			}
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			d.fail(k, path, "expected a string key, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.ps.Add(d.pos(k), path, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{key: k, val: val})
	}
	// Merge keys (YAML 1.1 "<<: *defaults") are widely used to share settings between
	// upstreams or routes; the explicit keys win, and earlier merges win over later ones.
	for _, m := range merges {
		for _, src := range d.mergeSources(m, path) {
			d.active[src] = true
			for _, p := range d.pairs(src, path) {
				if _, dup := seen[p.key.Value]; dup {
					continue
				}
				seen[p.key.Value] = p.key
				out = append(out, p)
			}
			delete(d.active, src)
		}
	}
	return out
}

// mergeSources returns the mappings a "<<" value names: one mapping or a list of them.
func (d *decoder) mergeSources(m *yaml.Node, path string) []*yaml.Node {
	if !d.count(m, path) {
		return nil
	}
	m, ok := d.deref(m, path)
	if !ok {
		return nil
	}
	switch m.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{m}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, e := range m.Content {
			if !d.count(e, path) {
				return out
			}
			e, ok := d.deref(e, path)
			if !ok {
				continue
			}
			if e.Kind != yaml.MappingNode {
				d.fail(e, path, "merge key \"<<\" expects a mapping or a list of mappings, got %s", kindName(e))
				continue
			}
			out = append(out, e)
		}
		return out
	}
	d.fail(m, path, "merge key \"<<\" expects a mapping or a list of mappings, got %s", kindName(m))
	return nil
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a duration")
	if !ok {
		return
	}
	dur, err := parseDuration(s)
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeSize(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a size")
	if !ok {
		return
	}
	size, err := parseSize(s)
	if err != nil {
		d.fail(n, path, "%s", err)
		return
	}
	v.SetInt(size)
}

// parseDuration reads a Go duration string. A plain 0 is allowed (it reads naturally as
// "off"); any other bare number is a problem, since "30" could mean seconds or milliseconds.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("duration %q needs a unit, e.g. %ss or %sms", s, s, s)
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (write e.g. 300ms, 1.5s, 2m, 1h)", s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return dur, nil
}

// sizeUnits are the accepted size suffixes: decimal (kB = 1000) and binary (KiB = 1024).
var sizeUnits = map[string]int64{
	"B":  1,
	"KB": 1000, "MB": 1000 * 1000, "GB": 1000 * 1000 * 1000, "TB": 1000 * 1000 * 1000 * 1000,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*([A-Za-z]*)$`)

// parseSize reads a byte count: a plain integer or an integer with a unit of sizeUnits.
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		if strings.HasPrefix(strings.TrimSpace(s), "-") {
			return 0, fmt.Errorf("size %q must not be negative", s)
		}
		return 0, fmt.Errorf("invalid size %q (write e.g. 512, 512B, 64KiB, 1MiB, 10MB, 2GiB)", s)
	}
	mult := int64(1)
	if m[2] != "" {
		u, ok := sizeUnits[m[2]]
		if !ok {
			return 0, fmt.Errorf("unknown size unit %q in %q (known: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", m[2], s)
		}
		mult = u
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// parseInt reads a decimal integer, or a 0x/0o/0b-prefixed one as YAML allows.
func parseInt(s string) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	t := strings.TrimLeft(s, "+-")
	if len(t) > 1 && t[0] == '0' && strings.ContainsRune("xXoObB", rune(t[1])) {
		return strconv.ParseInt(s, 0, 64)
	}
	return 0, strconv.ErrSyntax
}

// isNullValue is isNull after following aliases.
func isNullValue(n *yaml.Node) bool {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return isNull(n)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName describes a node for "expected X, got Y" problems.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return fmt.Sprintf("a string (%q)", n.Value)
	}
	return "a document"
}

// fieldSet is the yaml keys of a struct type in declaration order.
type fieldSet struct {
	names []string
	index map[string]int
}

// fieldSets caches structFields per type; decoding asks for the same few types
// thousands of times in a large config. Safe for concurrent Parse calls.
var fieldSets sync.Map // reflect.Type → fieldSet

func structFields(t reflect.Type) fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		fs.names = append(fs.names, key)
		fs.index[key] = i
	}
	fieldSets.Store(t, fs)
	return fs
}

// joinPath appends a struct field key to a dotted path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapPath appends a map key to a dotted path, bracketing keys that would read
// ambiguously in dotted form (`match.body["$.user.kind"]`).
func mapPath(path, key string) string {
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Sprintf("%s[%q]", path, key)
		}
	}
	if key == "" {
		return path + `[""]`
	}
	return joinPath(path, key)
}
