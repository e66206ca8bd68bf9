// Package monitoring reads hitcounter's Grafana dashboard (DashboardFile, the one copy, shipped
// by the Helm chart and mounted by the Compose grafana profile): its panels and the PromQL
// queries they send. The tests of this package check the dashboard's shape and that each query
// is PromQL (promtool); the end-to-end monitoring test sends each to a live Prometheus. Grafana
// itself never runs in a test: it has no Debian package to stand in for its image on machines
// without a registry.
package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
)

// DashboardFile is the dashboard, from the repository's root.
const DashboardFile = "deploy/helm/hitcounter/files/grafana-dashboard.json"

// Dashboard is the part of Grafana's dashboard JSON that the tests read.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Variable is one of the dashboard's template variables.
type Variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query string `json:"query"`
}

// Panel is one panel; a row holds the panels folded into it.
type Panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *Datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *Datasource `json:"datasource"`
}

// Datasource names the data source a panel or target asks.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Query is one PromQL expression of the dashboard and where it is.
type Query struct {
	Panel string // the panel's title
	RefID string
	Expr  string
}

func (q Query) String() string { return fmt.Sprintf("%q %s: %s", q.Panel, q.RefID, q.Expr) }

// ReadDashboard decodes a dashboard file; unknown fields are Grafana's and are left alone.
func ReadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// AllPanels is every panel that is not a row, rows' folded panels included, in order.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			out = append(out, p)
		}
	}
	walk(d.Panels)
	return out
}

// Queries is every target's expression, in the panels' order.
func (d *Dashboard) Queries() []Query {
	var out []Query
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			out = append(out, Query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
		}
	}
	return out
}
