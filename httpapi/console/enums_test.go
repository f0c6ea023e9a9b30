package console

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestConsoleEnumsMatchOpenAPI requires the lists the console's pages offer
// (webhook events, route methods, session and hold states) to be exactly
// openapi.json's enums, in its order: a value the API adds must show up as
// a checkbox or a filter, and one it drops must go.
func TestConsoleEnumsMatchOpenAPI(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	enum := func(schema string, path ...string) []string {
		var v any
		if err := json.Unmarshal(doc.Components.Schemas[schema], &v); err != nil {
			t.Fatalf("schema %s: %v", schema, err)
		}
		for _, key := range append(path, "enum") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("schema %s has no %v", schema, path)
			}
			v = m[key]
		}
		var out []string
		for _, e := range v.([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	for _, c := range []struct {
		file, constant string
		want           []string
	}{
		{"webhooks.js", "WEBHOOK_EVENTS", enum("WebhookEventType")},
		{"routes.js", "ROUTE_METHODS", enum("RouteRequest", "properties", "methods", "items")},
		{"activity.js", "SESSION_STATES", enum("SessionState")},
		{"activity.js", "HOLD_STATES", enum("HoldState")},
	} {
		source, err := os.ReadFile(filepath.Join("web", "src", "pages", c.file))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?s)export const ` + c.constant + ` = \[(.*?)\];`).FindSubmatch(source)
		if m == nil {
			t.Fatalf("%s: no `export const %s = [...]`", c.file, c.constant)
		}
		var got []string
		for _, quoted := range regexp.MustCompile(`"([^"]*)"`).FindAllSubmatch(m[1], -1) {
			got = append(got, string(quoted[1]))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %s = [%s], want openapi.json's [%s]", c.file, c.constant, strings.Join(got, " "), strings.Join(c.want, " "))
		}
	}
}
