package admin

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboardUsesDocumentedMetrics keeps examples/grafana/gantry-dashboard.json
// importable and in step with the metric table of docs/observability.md: every metric
// a panel queries must be documented (histograms by their _bucket series).
func TestGrafanaDashboardUsesDocumentedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../examples/grafana/gantry-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Inputs []struct {
			Name     string `json:"name"`
			PluginID string `json:"pluginId"`
		} `json:"__inputs"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("gantry-dashboard.json is not valid JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Inputs) != 1 || dash.Inputs[0].PluginID != "prometheus" {
		t.Errorf("dashboard title %q uid %q inputs %+v, want a title, a uid and one Prometheus input", dash.Title, dash.UID, dash.Inputs)
	}
	docs, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(gantry_[a-z_]+)` \\|").FindAllStringSubmatch(string(docs), -1) {
		documented[m[1]] = true
	}
	if len(documented) < 10 {
		t.Fatalf("found %d metrics in the docs' table, want the whole table", len(documented))
	}
	name := regexp.MustCompile(`gantry_[a-z_]+`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(m, "_bucket")
				if !documented[base] {
					t.Errorf("panel %q queries %s, which docs/observability.md does not list", p.Title, m)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has %d queries, want the full set", queries)
	}
}
