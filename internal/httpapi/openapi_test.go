package httpapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/badge"
	"github.com/hitcounter/hitcounter/internal/exportline"
	dto "github.com/prometheus/client_model/go"
)

type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]any `json:"properties"`
			Required   []string       `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	OperationID string         `json:"operationId"`
	Responses   map[string]any `json:"responses"`
}

// UnmarshalJSON reads an operation; a path item's other members (servers, parameters), which
// are not objects of this shape, read as an empty operation.
func (o *openAPIOperation) UnmarshalJSON(b []byte) error {
	type plain openAPIOperation
	if len(b) > 0 && b[0] != '{' {
		return nil
	}
	return json.Unmarshal(b, (*plain)(o))
}

func loadOpenAPI(t *testing.T) (openAPIDoc, any) {
	t.Helper()
	var doc openAPIDoc
	var raw any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	_ = json.Unmarshal(openAPIDocument, &raw)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	return doc, raw
}

// documentedPath turns a ServeMux pattern into its OpenAPI method and path.
func documentedPath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return strings.ToLower(method), strings.TrimSuffix(path, "{$}")
}

// Every route is documented, and nothing else is: a route added without its documentation, or
// documentation left behind by a removed route, fails here.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	var fromRoutes, fromDoc []string
	d := Deps{Metrics: NewMetrics("test")}
	for _, r := range publicRoutes(d) {
		method, path := documentedPath(r.pattern)
		fromRoutes = append(fromRoutes, method+" "+path)
	}
	for _, r := range operatorRoutes(d) {
		method, path := documentedPath(r.pattern)
		fromRoutes = append(fromRoutes, method+" "+path+" (operator port)")
	}
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		where := ""
		if _, ok := ops["servers"]; ok {
			where = " (operator port)"
		}
		for method, op := range ops {
			if method == "parameters" || method == "servers" {
				continue
			}
			fromDoc = append(fromDoc, method+" "+path+where)
			if op.OperationID == "" || ids[op.OperationID] || len(op.Responses) == 0 {
				t.Errorf("%s %s: operationId %q (unique and set?) with %d responses", method, path, op.OperationID, len(op.Responses))
			}
			ids[op.OperationID] = true
		}
	}
	slices.Sort(fromRoutes)
	slices.Sort(fromDoc)
	if !slices.Equal(fromRoutes, fromDoc) {
		t.Fatalf("routes and openapi.json differ:\nroutes: %v\ndoc:    %v", fromRoutes, fromDoc)
	}
	checkRefs(t, raw, raw, "")
}

// checkRefs fails on any $ref that does not resolve inside the document.
func checkRefs(t *testing.T, root, node any, at string) {
	t.Helper()
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok {
			target := root
			for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
				m, ok := target.(map[string]any)
				if !ok {
					target = nil
					break
				}
				target = m[part]
			}
			if target == nil {
				t.Errorf("%s: $ref %q does not resolve", at, ref)
			}
		}
		for k, v := range n {
			checkRefs(t, root, v, at+"/"+k)
		}
	case []any:
		for _, v := range n {
			checkRefs(t, root, v, at+"[]")
		}
	}
}

// openapi.json enumerates the badge's styles, views and number formats as the code checks them,
// in the same order (the default first).
func TestBadgeEnumerations(t *testing.T) {
	var doc struct {
		Components struct {
			Parameters map[string]struct {
				Schema struct {
					Enum    []string `json:"enum"`
					Default any      `json:"default"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		parameter string
		want      []string
	}{
		{"badgeStyle", badge.Styles()},
		{"badgeView", badgeViews},
		{"badgeFormat", numberFormats},
	} {
		got := doc.Components.Parameters[tc.parameter].Schema
		if !slices.Equal(got.Enum, tc.want) || got.Default != any(tc.want[0]) {
			t.Errorf("openapi.json's %s: enum %q, default %q; the code has %q, default first", tc.parameter, got.Enum, got.Default, tc.want)
		}
	}
}

// The documented JSON shapes are the ones the code writes.
func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	for schema, v := range map[string]any{
		"Value": valueAnswer{}, "CounterInfo": infoAnswer{}, "Created": createdAnswer{}, "AdminKey": adminKeyAnswer{},
		"Deleted": statusAnswer{}, "ExportLine": exportline.Line{}, "Error": errorAnswer{}, "ImportResult": importResultFields{},
		"Settings": settingsAnswer{}, "Stats": statsAnswer{}, "Day": dayAnswer{},
		"Claimed": claimedAnswer{}, "NamespaceListing": namespaceAnswer{}, "NamespaceCounter": namespaceCounter{},
	} {
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Errorf("schema %s is not in openapi.json", schema)
			continue
		}
		var documented, written []string
		for p := range s.Properties {
			documented = append(documented, p)
		}
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			written = append(written, name)
		}
		slices.Sort(documented)
		slices.Sort(written)
		if !slices.Equal(documented, written) {
			t.Errorf("schema %s documents %v; the code writes %v", schema, documented, written)
		}
	}
}

// importResultFields mirrors counter.ImportResult's JSON fields (a domain type, not an answer).
type importResultFields struct {
	Created       int `json:"created"`
	Updated       int `json:"updated"`
	Unchanged     int `json:"unchanged"`
	Days          int `json:"days"`
	DaysUnchanged int `json:"days_unchanged"`
	DaysSkipped   int `json:"days_skipped"`
}

// checkStatusesDocumented fails for any (route, method, status) the server answered in a test that
// the document does not list for that operation.
func checkStatusesDocumented(t *testing.T, m *Metrics) {
	t.Helper()
	doc, _ := loadOpenAPI(t)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "hitcounter_http_requests_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := labelMap(metric)
			route, method, code := labels["route"], strings.ToLower(labels["method"]), labels["code"]
			if route == "unmatched" || method == "head" {
				continue
			}
			op, ok := doc.Paths[route][method]
			if !ok {
				t.Errorf("%s %s answered but is not documented", method, route)
				continue
			}
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s %s answered %s, which openapi.json does not list", method, route, code)
			}
		}
	}
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
