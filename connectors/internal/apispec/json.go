package apispec

import (
	"encoding/json"
	"fmt"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// toJSON turns a YAML tree into JSON. yaml.v3 decodes mappings as
// map[string]any, which encoding/json takes as is; keys that are not
// strings (rare in API specs) are written with fmt.
func toJSON(v any) ([]byte, error) { return json.Marshal(normalize(v)) }

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}
