package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsCompleteExample keeps the complete example of docs/configuration.md valid.
func TestDocsCompleteExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete example")
	if !ok {
		t.Fatalf("docs/configuration.md has no \"A complete example\" section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok || example == "" {
		t.Fatalf("no yaml block in the complete example")
	}
	env := map[string]string{"ADMIN_TOKEN": "t"}
	if _, err := ParseWith("configuration.md", []byte(example), ParseOptions{LookupEnv: lookupMap(env)}); err != nil {
		t.Errorf("complete example does not parse:\n%v", err)
	}
}
