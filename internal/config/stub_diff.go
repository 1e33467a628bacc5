package config

// TEMPORARY STUB until the config branch merges (its diff.go replaces this file).

import "reflect"

// Same reports deep equality ignoring positions.
func Same(a, b any) bool { return reflect.DeepEqual(a, b) }

// Changes lists what a reload changes.
type Changes struct{}

// Diff compares two configs.
func Diff(old, new *Config) Changes { return Changes{} }

func (c Changes) String() string { return "" }

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return false }

// Parse parses a config from memory.
func Parse(name string, data []byte) (*Config, error) { return nil, nil }

// Load reads a config file.
func Load(path string) (*Config, error) { return nil, nil }
