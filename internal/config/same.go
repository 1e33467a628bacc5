package config

import (
	"reflect"
	"slices"
	"strings"
)

// Same reports whether two config values (a *Config, *Upstream, *Route, Listener, ...)
// are deeply equal when every At is ignored, so moving a section to other lines does
// not make it different. For a Config the file metadata Source and Hash are ignored
// too. Nil and empty slices and maps are equal; values of different types are not.
// The gateway uses it on reload to keep upstreams, routes and listeners that did not change.
func Same(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() {
		return va.IsValid() == vb.IsValid()
	}
	if va.Type() != vb.Type() {
		return false
	}
	return same(va, vb, 0)
}

var typeConfig = reflect.TypeFor[Config]()

// maxSameDepth guards against a cyclic value; config values are trees a few levels deep.
const maxSameDepth = 64

func same(a, b reflect.Value, depth int) bool {
	if depth > maxSameDepth {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Kind() == reflect.Pointer && a.Pointer() == b.Pointer() {
			return true
		}
		ea, eb := a.Elem(), b.Elem()
		if ea.Type() != eb.Type() {
			return false
		}
		return same(ea, eb, depth+1)
	case reflect.Struct:
		t := a.Type()
		if t.PkgPath() != typeAt.PkgPath() && t.Comparable() {
			// A value type from elsewhere (netip.Prefix, time.Time's kin) keeps its
			// state in unexported fields; == is its equality.
			return a.Equal(b)
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Type == typeAt || (t == typeConfig && (f.Name == "Source" || f.Name == "Hash")) {
				continue
			}
			if !f.IsExported() {
				// Unexported fields (only At's position map today) hold no configuration.
				continue
			}
			if !same(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			vb := b.MapIndex(k)
			if !vb.IsValid() || !same(a.MapIndex(k), vb, depth+1) {
				return false
			}
		}
		return true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.IsNil() && b.IsNil()
	}
	// Scalars: compare by value. Comparable kinds only remain here.
	return a.Equal(b)
}

// NameChanges lists, by name and sorted, what a reload adds, removes and modifies
// in one kind of config object.
type NameChanges struct {
	Added    []string `json:"added,omitempty"`
	Removed  []string `json:"removed,omitempty"`
	Modified []string `json:"modified,omitempty"`
}

// Empty reports whether nothing changed.
func (n NameChanges) Empty() bool {
	return len(n.Added) == 0 && len(n.Removed) == 0 && len(n.Modified) == 0
}

// String renders "+added -removed ~modified" or "none".
func (n NameChanges) String() string {
	if n.Empty() {
		return "none"
	}
	var parts []string
	for _, s := range n.Added {
		parts = append(parts, "+"+s)
	}
	for _, s := range n.Removed {
		parts = append(parts, "-"+s)
	}
	for _, s := range n.Modified {
		parts = append(parts, "~"+s)
	}
	return strings.Join(parts, " ")
}

// Changes is what differs between two configs, for the reload log line and the admin
// API. Listeners and upstreams are identified by their key, routes by name.
type Changes struct {
	Listeners NameChanges `json:"listeners"`
	Upstreams NameChanges `json:"upstreams"`
	Routes    NameChanges `json:"routes"`
	// Sections names other top-level sections that differ (admin, log, consumers,
	// security, observe), in that order.
	Sections []string `json:"sections,omitempty"`
	// Order is true when the same set of route names appears in a different order
	// (which can change which route wins a tie).
	Order bool `json:"order,omitempty"`
}

// Empty reports whether the two configs are the same (ignoring positions).
func (c Changes) Empty() bool {
	return c.Listeners.Empty() && c.Upstreams.Empty() && c.Routes.Empty() && len(c.Sections) == 0 && !c.Order
}

// String renders e.g. "routes +orders -legacy ~products; upstreams ~shop; listeners none",
// followed by "; route order changed" and "; other ~log ~admin" when those apply.
func (c Changes) String() string {
	s := "routes " + c.Routes.String() + "; upstreams " + c.Upstreams.String() + "; listeners " + c.Listeners.String()
	if c.Order {
		s += "; route order changed"
	}
	if len(c.Sections) > 0 {
		s += "; other ~" + strings.Join(c.Sections, " ~")
	}
	return s
}

// Diff compares two configs by name (old may be nil, for the first load: everything
// is added). Modified means present in both and not Same.
func Diff(old, new *Config) Changes {
	first := old == nil
	if old == nil {
		old = &Config{}
	}
	if new == nil {
		new = &Config{}
	}
	var c Changes
	c.Listeners = diffMaps(old.Listeners, new.Listeners)
	c.Upstreams = diffMaps(old.Upstreams, new.Upstreams)
	c.Routes = diffMaps(routesByName(old.Routes), routesByName(new.Routes))
	if c.Routes.Empty() && !slices.Equal(routeNames(old.Routes), routeNames(new.Routes)) {
		c.Order = true
	}
	for _, s := range []struct {
		name string
		a, b any
	}{
		{"admin", old.Admin, new.Admin},
		{"log", old.Log, new.Log},
		{"consumers", old.Consumers, new.Consumers},
		{"security", old.Security, new.Security},
		{"observe", old.Observe, new.Observe},
	} {
		if !first && !Same(s.a, s.b) { // on a first load the sections are simply there
			c.Sections = append(c.Sections, s.name)
		}
	}
	return c
}

func diffMaps[V any](old, new map[string]V) NameChanges {
	var n NameChanges
	for _, k := range sortedKeys(new) {
		ov, ok := old[k]
		switch {
		case !ok:
			n.Added = append(n.Added, k)
		case !Same(ov, new[k]):
			n.Modified = append(n.Modified, k)
		}
	}
	for _, k := range sortedKeys(old) {
		if _, ok := new[k]; !ok {
			n.Removed = append(n.Removed, k)
		}
	}
	return n
}

func routesByName(rs []*Route) map[string]*Route {
	m := make(map[string]*Route, len(rs))
	for _, r := range rs {
		if r != nil {
			m[r.Name] = r
		}
	}
	return m
}

func routeNames(rs []*Route) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		if r != nil {
			out = append(out, r.Name)
		}
	}
	return out
}
