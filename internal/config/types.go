package config

import (
	"fmt"
	"time"
)

// Pos is a place in a config file. Line and Col are 1-based; zero means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// String renders "file:line:col", dropping parts that are unknown.
func (p Pos) String() string {
	f := p.File
	if f == "" {
		f = "<config>"
	}
	switch {
	case p.Line == 0:
		return f
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", f, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
}

// At records where a YAML mapping stands and where each of its keys' values stand.
// Config structs embed it (tagged yaml:"-"); the decoder fills it.
type At struct {
	// Pos is the position of the mapping (or of the scalar, for short forms).
	Pos Pos
	// Path is the dotted field path of the mapping, e.g. "routes[2].match".
	Path string
	// fields maps a YAML key to the position of its value.
	fields map[string]Pos
}

// Field returns the position of key's value, or of the mapping when the key was absent.
func (a At) Field(key string) Pos {
	if p, ok := a.fields[key]; ok {
		return p
	}
	return a.Pos
}

// FieldPath returns the dotted path of key below this mapping, e.g. "routes[2].upstream".
func (a At) FieldPath(key string) string {
	if a.Path == "" {
		return key
	}
	return a.Path + "." + key
}

// Duration is a time.Duration written as a Go duration string ("1.5s", "300ms", "2m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as a number or with a unit: 512, "64KiB", "1MiB", "10MB", "2GiB".
type Size int64

// Problem is one validation problem: where, which field, what is wrong.
type Problem struct {
	Pos  Pos
	Path string // dotted field path, e.g. "routes[2].upstream"
	Msg  string
}

// String renders "file:line:col: path: msg".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Pos.String() + ": " + p.Msg
	}
	return p.Pos.String() + ": " + p.Path + ": " + p.Msg
}

// Problems collects validation problems; Load returns them together as an *Error.
type Problems struct{ List []Problem }

// Add records a problem at pos for the field at path.
func (ps *Problems) Add(pos Pos, path, format string, args ...any) {
	ps.List = append(ps.List, Problem{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// AddField records a problem about key of the mapping at a (position and path from a).
func (ps *Problems) AddField(a At, key, format string, args ...any) {
	ps.Add(a.Field(key), a.FieldPath(key), format, args...)
}

// Error is every problem found in a config, one per line, in file order.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	s := ""
	for i, p := range e.Problems {
		if i > 0 {
			s += "\n"
		}
		s += p.String()
	}
	return s
}

// Has reports whether key was given a (non-null) value in the mapping. Defaults use it
// to tell "absent" from an explicit zero, which validation may then reject.
func (a At) Has(key string) bool {
	_, ok := a.fields[key]
	return ok
}

// Item returns the position of element i of the list under key (falling back to the
// list's position).
func (a At) Item(key string, i int) Pos {
	if p, ok := a.fields[fmt.Sprintf("%s[%d]", key, i)]; ok {
		return p
	}
	return a.Field(key)
}

// ItemPath returns the dotted path of element i of the list under key, e.g. "retries.on[1]".
func (a At) ItemPath(key string, i int) string {
	return fmt.Sprintf("%s[%d]", a.FieldPath(key), i)
}

// Entry returns the position of the value of entry name in the mapping under key
// (falling back to the mapping's position).
func (a At) Entry(key, name string) Pos {
	if p, ok := a.fields[mapPath(key, name)]; ok {
		return p
	}
	return a.Field(key)
}

// EntryPath returns the dotted path of entry name in the mapping under key, e.g.
// "sni.api" or `match.body["$.user"]`.
func (a At) EntryPath(key, name string) string {
	return mapPath(a.FieldPath(key), name)
}
